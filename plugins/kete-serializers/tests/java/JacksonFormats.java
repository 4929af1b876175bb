import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.dataformat.csv.CsvMapper;
import com.fasterxml.jackson.dataformat.csv.CsvSchema;
import com.fasterxml.jackson.dataformat.javaprop.JavaPropsMapper;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import com.fasterxml.jackson.dataformat.xml.XmlMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import org.keycloak.events.Event;
import org.keycloak.events.admin.AdminEvent;

/**
 * The original KETE's Jackson mappers, for kete's cross-check. Reads lines from stdin, writes one line per input line.
 *   write FORMAT: input {"kind": "EVENT"|"ADMIN_EVENT", "event": {...}} -> Base64 of what the mapper writes for
 *                 Keycloak's Event / AdminEvent bean read from that JSON, as the original's writerFor(Event.class)
 *   read FORMAT:  input Base64 of a payload -> the JSON tree the mapper reads from it
 *   read url-encoded-form: input Base64 of a form -> its fields as a JSON object, decoded by java.net.URLDecoder
 * The mappers are configured as in the original's serializers/*Serializer.java: new ObjectMapper(new XFactory()).
 */
public final class JacksonFormats {
    private static final ObjectMapper JSON = new ObjectMapper();
    // resourceId and resourceTypeAsString are getters without a setter: the bean derives them.
    private static final ObjectMapper BEANS = new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

    private static ObjectMapper mapper(String format) {
        switch (format) {
            case "yaml": return new YAMLMapper();
            case "xml": return new XmlMapper();
            case "properties": return new JavaPropsMapper();
            case "toml": return new TomlMapper();
            case "csv": return new CsvMapper();
            default: throw new IllegalArgumentException("unknown format " + format);
        }
    }

    private static JsonNode readForm(byte[] payload) throws Exception {
        var fields = JSON.createObjectNode();
        for (String pair : new String(payload, StandardCharsets.UTF_8).split("&")) {
            String[] nameValue = pair.split("=", 2);
            fields.put(URLDecoder.decode(nameValue[0], StandardCharsets.UTF_8),
                       URLDecoder.decode(nameValue[1], StandardCharsets.UTF_8));
        }
        return fields;
    }

    public static void main(String[] args) throws Exception {
        String mode = args[0];
        boolean form = args[1].equals("url-encoded-form");
        ObjectMapper mapper = form ? JSON : mapper(args[1]);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        PrintStream out = new PrintStream(System.out, true, "UTF-8");
        for (String line; (line = in.readLine()) != null; ) {
            try {
                if (mode.equals("write")) {
                    JsonNode input = JSON.readTree(line);
                    boolean admin = input.get("kind").asText().equals("ADMIN_EVENT");
                    Class<?> type = admin ? AdminEvent.class : Event.class;
                    Object bean = BEANS.treeToValue(input.get("event"), type);
                    ObjectWriter writer = mapper.writerFor(type);
                    if (mapper instanceof CsvMapper csv) {
                        // The original's CSV writer throws on nested values: kete writes them empty, so compare that.
                        if (bean instanceof AdminEvent event) { event.setAuthDetails(null); event.setDetails(null); }
                        if (bean instanceof Event event) { event.setDetails(null); }
                        writer = writer.with(csv.schemaFor(type).withHeader());
                    }
                    out.println(Base64.getEncoder().encodeToString(writer.writeValueAsBytes(bean)));
                } else {
                    byte[] payload = Base64.getDecoder().decode(line);
                    JsonNode tree = form ? readForm(payload)
                        // java.util.Properties reads ISO-8859-1; Jackson's byte reader would sign-extend bytes above 0x7F
                        : mapper instanceof JavaPropsMapper ? mapper.readTree(new String(payload, StandardCharsets.ISO_8859_1))
                        : mapper instanceof CsvMapper
                            ? mapper.readerFor(JsonNode.class).with(CsvSchema.emptySchema().withHeader()).readValue(payload)
                        : mapper.readTree(payload);
                    out.println(JSON.writeValueAsString(tree));
                }
            } catch (Exception e) {
                out.println("!" + e.toString().replace('\n', ' '));
            }
        }
    }
}
