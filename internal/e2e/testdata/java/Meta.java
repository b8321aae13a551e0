import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;

// Meta prints what pgjdbc's DatabaseMetaData answers for the objects of
// the current database's public schema, one line per row, so that a Go
// test can compare the answers of Cairn and of PostgreSQL.
// Usage: java Meta <jdbc url> <user>
public class Meta {
    public static void main(String[] args) throws Exception {
        try (Connection c = DriverManager.getConnection(args[0], args[1], "")) {
            DatabaseMetaData md = c.getMetaData();
            print("schemas", md.getSchemas(), "TABLE_SCHEM");
            print("tables", md.getTables(null, "public", "%", null),
                "TABLE_SCHEM", "TABLE_NAME", "TABLE_TYPE");
            print("columns", md.getColumns(null, "public", "%", "%"),
                "TABLE_NAME", "COLUMN_NAME", "DATA_TYPE", "TYPE_NAME", "NULLABLE", "IS_NULLABLE", "ORDINAL_POSITION");
            for (String t : args.length > 2 ? args[2].split(",") : new String[0]) {
                print("pk " + t, md.getPrimaryKeys(null, "public", t), "TABLE_NAME", "COLUMN_NAME", "KEY_SEQ");
            }
            print("types", md.getTypeInfo(), "TYPE_NAME", "DATA_TYPE");
        }
    }

    static void print(String what, ResultSet rs, String... cols) throws Exception {
        ResultSetMetaData m = rs.getMetaData();
        int n = 0;
        while (rs.next()) {
            StringBuilder b = new StringBuilder(what).append(":");
            for (String col : cols) {
                b.append(" ").append(col).append("=").append(rs.getString(col));
            }
            System.out.println(b);
            n++;
        }
        System.out.println(what + ": " + n + " rows");
        rs.close();
    }
}
