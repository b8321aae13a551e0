import java.sql.*;

// The JDBC part of TestDrivers: PreparedStatement with setString, setInt,
// setTimestamp; executeBatch (varchar parameters once failed with "Can't
// change resolved type ... from 1043 to 25"); result set metadata; DDL
// with autocommit off. Prints what it saw; the Go test compares.
public class JdbcClient {
  public static void main(String[] args) throws Exception {
    try (Connection c = DriverManager.getConnection(args[0])) {
      c.setAutoCommit(false);
      try (Statement s = c.createStatement()) {
        s.execute("CREATE STREAM jdbc_ev (ts timestamptz, dev int, name varchar, v float8)");
      }
      // The stream created in this transaction is usable at once.
      try (PreparedStatement ps = c.prepareStatement("INSERT INTO jdbc_ev (ts, dev, name, v) VALUES (?, ?, ?, ?)")) {
        for (int i = 0; i < 7; i++) {
          ps.setTimestamp(1, Timestamp.valueOf("2024-01-01 10:0" + i + ":00"));
          ps.setInt(2, i % 3);
          ps.setString(3, "name " + i);
          ps.setDouble(4, i * 1.5);
          ps.addBatch();
        }
        int[] r = ps.executeBatch();
        System.out.println("batch " + r.length + " statements, first inserted " + r[0]);
      }
      c.commit();
      c.setAutoCommit(true);
      // Six executions: pgjdbc switches to a named server-side statement
      // after five (prepareThreshold), so both paths run.
      try (PreparedStatement ps = c.prepareStatement("SELECT dev, name, v, ts FROM jdbc_ev WHERE name = ? OR dev = ? ORDER BY ts")) {
        for (int k = 0; k < 6; k++) {
          ps.setString(1, "name 1");
          ps.setInt(2, 2);
          try (ResultSet rs = ps.executeQuery()) {
            ResultSetMetaData md = rs.getMetaData();
            StringBuilder sb = new StringBuilder();
            for (int i = 1; i <= md.getColumnCount(); i++) {
              sb.append(md.getColumnName(i)).append(':').append(md.getColumnTypeName(i)).append(' ');
            }
            int n = 0;
            while (rs.next()) {
              n++;
              if (k == 5) System.out.println(rs.getInt(1) + " | " + rs.getString(2) + " | " + rs.getDouble(3) + " | " + rs.getTimestamp(4).toInstant());
            }
            if (k == 5) System.out.println("columns " + sb.toString().trim() + "; rows " + n);
          }
        }
      }
      // setFetchSize in a transaction reads through a portal in chunks
      // (Execute with a row limit, PortalSuspended).
      c.setAutoCommit(false);
      try (PreparedStatement ps = c.prepareStatement("SELECT name FROM jdbc_ev ORDER BY ts")) {
        ps.setFetchSize(2);
        StringBuilder sb = new StringBuilder();
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) sb.append(rs.getString(1).substring(5));
        }
        System.out.println("fetched in chunks " + sb);
      }
      c.commit();
      c.setAutoCommit(true);
      try (PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM jdbc_ev WHERE ts >= ?")) {
        ps.setTimestamp(1, Timestamp.valueOf("2024-01-01 10:05:00"));
        try (ResultSet rs = ps.executeQuery()) {
          rs.next();
          System.out.println("since 10:05 " + rs.getLong(1));
        }
      }
    }
  }
}
