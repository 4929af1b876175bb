// The five casings the original KETE computes for a template value (EventMessage: String's
// toUpperCase/toLowerCase and Guava's CaseFormat.UPPER_UNDERSCORE.to(...)), one input line per
// output line: upper, lower, kebab, pascal, camel, separated by tabs.
import com.google.common.base.CaseFormat;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

public class KeteCases {
    public static void main(String[] args) throws Exception {
        var in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        var out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        String value;
        while ((value = in.readLine()) != null) {
            out.println(String.join("\t",
                value.toUpperCase(),
                value.toLowerCase(),
                CaseFormat.UPPER_UNDERSCORE.to(CaseFormat.LOWER_HYPHEN, value),
                CaseFormat.UPPER_UNDERSCORE.to(CaseFormat.UPPER_CAMEL, value),
                CaseFormat.UPPER_UNDERSCORE.to(CaseFormat.LOWER_CAMEL, value)));
        }
    }
}
