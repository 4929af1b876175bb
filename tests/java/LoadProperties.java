// .properties files as Java reads them: java.util.PropertyResourceBundle (UTF-8, and ISO-8859-1 when
// the bytes are not UTF-8) over Properties' own parser. For each file named: a line "FILE", then one
// line per key: the key and the value as UTF-16 code units in hex, tab-separated; or one line
// "ERROR<tab>message" when Java refuses the file.
import java.io.FileInputStream;
import java.util.PropertyResourceBundle;
import java.util.TreeMap;

public class LoadProperties {
    private static String hex(String text) {
        var out = new StringBuilder();
        for (char c : text.toCharArray()) out.append(String.format("%04x", (int) c));
        return out.toString();
    }

    public static void main(String[] args) throws Exception {
        for (String path : args) {
            System.out.println("FILE");
            PropertyResourceBundle bundle;
            try (var in = new FileInputStream(path)) {
                bundle = new PropertyResourceBundle(in);
            } catch (IllegalArgumentException e) {
                System.out.println("ERROR\t" + e.getMessage());
                continue;
            }
            var sorted = new TreeMap<String, String>();
            for (String key : bundle.keySet()) sorted.put(key, bundle.getString(key));
            sorted.forEach((key, value) -> System.out.println(hex(key) + "\t" + hex(value)));
        }
    }
}
