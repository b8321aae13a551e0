import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.ResultSet;

// Meta prints what pgjdbc's DatabaseMetaData answers about the public
// schema, one line per row, so that a Go test can compare the answers
// of Cairn and of PostgreSQL for objects of the same shape.
// Usage: java Meta <jdbc url> <user> <call>...
// where a call is schemas, tables, columns, types, pk:<table>,
// idx:<table> (getIndexInfo) or fk:<table> (getImportedKeys).
public class Meta {
    public static void main(String[] args) throws Exception {
        try (Connection c = DriverManager.getConnection(args[0], args[1], "")) {
            DatabaseMetaData md = c.getMetaData();
            for (int i = 2; i < args.length; i++) {
                String call = args[i];
                if (call.equals("schemas")) {
                    print(call, md.getSchemas(), "TABLE_SCHEM");
                } else if (call.equals("tables")) {
                    print(call, md.getTables(null, "public", "%", null), "TABLE_SCHEM", "TABLE_NAME", "TABLE_TYPE");
                } else if (call.equals("columns")) {
                    print(call, md.getColumns(null, "public", "%", "%"),
                        "TABLE_NAME", "COLUMN_NAME", "DATA_TYPE", "TYPE_NAME", "NULLABLE", "IS_NULLABLE", "ORDINAL_POSITION");
                } else if (call.equals("types")) {
                    print(call, md.getTypeInfo(), "TYPE_NAME", "DATA_TYPE", "NULLABLE", "SEARCHABLE");
                } else if (call.startsWith("pk:")) {
                    print(call, md.getPrimaryKeys(null, "public", call.substring(3)), "TABLE_NAME", "COLUMN_NAME", "KEY_SEQ", "PK_NAME");
                } else if (call.startsWith("idx:")) {
                    print(call, md.getIndexInfo(null, "public", call.substring(4), false, false),
                        "TABLE_NAME", "NON_UNIQUE", "INDEX_NAME", "TYPE", "ORDINAL_POSITION", "COLUMN_NAME", "ASC_OR_DESC");
                } else if (call.startsWith("fk:")) {
                    print(call, md.getImportedKeys(null, "public", call.substring(3)),
                        "PKTABLE_NAME", "PKCOLUMN_NAME", "FKTABLE_NAME", "FKCOLUMN_NAME", "KEY_SEQ", "FK_NAME", "PK_NAME");
                } else {
                    throw new IllegalArgumentException("unknown call " + call);
                }
            }
        }
    }

    static void print(String what, ResultSet rs, String... cols) throws Exception {
        while (rs.next()) {
            StringBuilder b = new StringBuilder(what).append(":");
            for (String col : cols) {
                b.append(" ").append(col).append("=").append(rs.getString(col));
            }
            System.out.println(b);
        }
        rs.close();
    }
}
