import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;

// pgjdbc over TLS: args[0] is the JDBC URL (sslmode=verify-full with the
// cluster CA and a client certificate); prints the answer of SELECT 1 + 1.
public class JdbcTLS {
    public static void main(String[] args) throws Exception {
        try (Connection c = DriverManager.getConnection(args[0]);
             Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT 1 + 1")) {
            rs.next();
            System.out.println("jdbc " + rs.getInt(1));
        }
    }
}
