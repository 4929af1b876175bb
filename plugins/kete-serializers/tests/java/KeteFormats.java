import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.cbor.CBORFactory;
import com.fasterxml.jackson.dataformat.csv.CsvMapper;
import com.fasterxml.jackson.dataformat.csv.CsvSchema;
import com.fasterxml.jackson.dataformat.javaprop.JavaPropsMapper;
import com.fasterxml.jackson.dataformat.smile.SmileFactory;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import com.fasterxml.jackson.dataformat.xml.XmlMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.google.protobuf.DescriptorProtos.FileDescriptorSet;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Descriptors.FileDescriptor;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.Message;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import jakarta.mail.internet.ContentDisposition;
import jakarta.mail.internet.MimeMultipart;
import jakarta.mail.util.ByteArrayDataSource;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.keycloak.events.Event;
import org.keycloak.events.admin.AdminEvent;
import org.keycloak.events.admin.AuthDetails;

/**
 * The original KETE's serializer libraries, for kete's cross-check: one JVM for every format.
 * args[0]: the plugin's schemas folder (avro/*.avsc, protobuf/protobuf.desc). Reads lines "MODE KIND INPUT" from
 * stdin and writes one line per input line ("!" and the error when it fails):
 *   write KIND {"kind": "EVENT"|"ADMIN_EVENT", "event": {...}} -> Base64 of what the original writes for Keycloak's
 *         Event / AdminEvent bean read from that JSON: Jackson's writerFor(Event.class), or for avro and protobuf
 *         the original's AvroSerializer / ProtobufSerializer records (same fields, same setIfPresent rules)
 *   read KIND BASE64 -> the JSON tree the library reads from that payload (avro: with the original's schema;
 *         protobuf: with its descriptors, enums and all fields by name; url-encoded-form: java.net.URLDecoder;
 *         multipart-form: Jakarta Mail's MimeMultipart, the parts by name)
 * The Jackson mappers are configured as in the original's serializers/*Serializer.java: new ObjectMapper(new XFactory()).
 */
public final class KeteFormats {
    private static final ObjectMapper JSON = new ObjectMapper();
    // resourceId and resourceTypeAsString are getters without a setter: the bean derives them.
    private static final ObjectMapper BEANS = new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);
    private static final Map<String, ObjectMapper> MAPPERS = Map.of(
        "yaml", new YAMLMapper(), "xml", new XmlMapper(), "properties", new JavaPropsMapper(), "toml", new TomlMapper(),
        "csv", new CsvMapper(), "cbor", new ObjectMapper(new CBORFactory()), "smile", new ObjectMapper(new SmileFactory()));

    private static Schema avroEvent, avroAdminEvent;
    private static Descriptor protoEvent, protoAdminEvent, protoAuthDetails;

    private static void loadSchemas(Path folder) throws Exception {
        avroEvent = new Schema.Parser().parse(folder.resolve("avro/event.avsc").toFile());
        avroAdminEvent = new Schema.Parser().parse(folder.resolve("avro/admin_event.avsc").toFile());
        var set = FileDescriptorSet.parseFrom(Files.readAllBytes(folder.resolve("protobuf/protobuf.desc")));
        var built = new HashMap<String, FileDescriptor>();
        for (var proto : set.getFileList()) {  // protoc lists a file after the files it imports
            var deps = proto.getDependencyList().stream().map(built::get).toArray(FileDescriptor[]::new);
            var file = FileDescriptor.buildFrom(proto, deps);
            built.put(proto.getName(), file);
            for (var message : file.getMessageTypes()) {
                switch (message.getName()) {
                    case "Event" -> protoEvent = message;
                    case "AdminEvent" -> protoAdminEvent = message;
                    case "AuthDetails" -> protoAuthDetails = message;
                    default -> throw new IllegalStateException(message.getName());
                }
            }
        }
    }

    // ------------------------------------------------------------------ the original's Avro and protobuf records

    private static void avroSet(GenericRecord record, String field, Object value) {
        if (value != null && record.getSchema().getField(field) != null) record.put(field, value);
    }

    private static byte[] avroWrite(Object bean) throws Exception {
        GenericData.Record record;
        if (bean instanceof Event e) {
            record = new GenericData.Record(avroEvent);
            avroSet(record, "id", e.getId()); avroSet(record, "time", e.getTime());
            avroSet(record, "type", e.getType() != null ? e.getType().name() : null);
            avroSet(record, "realm_id", e.getRealmId()); avroSet(record, "realm_name", e.getRealmName());
            avroSet(record, "client_id", e.getClientId()); avroSet(record, "user_id", e.getUserId());
            avroSet(record, "session_id", e.getSessionId()); avroSet(record, "ip_address", e.getIpAddress());
            avroSet(record, "error", e.getError());
            if (e.getDetails() != null) record.put("details", new HashMap<>(e.getDetails()));
        } else {
            var a = (AdminEvent) bean;
            record = new GenericData.Record(avroAdminEvent);
            avroSet(record, "id", a.getId()); avroSet(record, "time", a.getTime());
            avroSet(record, "realm_id", a.getRealmId()); avroSet(record, "realm_name", a.getRealmName());
            AuthDetails ad = a.getAuthDetails();
            if (ad != null) {
                Schema authSchema = avroAdminEvent.getField("auth_details").schema().getTypes().get(1);
                var auth = new GenericData.Record(authSchema);
                avroSet(auth, "realm_id", ad.getRealmId()); avroSet(auth, "realm_name", ad.getRealmName());
                avroSet(auth, "client_id", ad.getClientId()); avroSet(auth, "user_id", ad.getUserId());
                avroSet(auth, "ip_address", ad.getIpAddress());
                record.put("auth_details", auth);
            }
            avroSet(record, "resource_type", a.getResourceTypeAsString());
            avroSet(record, "operation_type", a.getOperationType() != null ? a.getOperationType().name() : null);
            avroSet(record, "resource_path", a.getResourcePath());
            avroSet(record, "representation", a.getRepresentation()); avroSet(record, "error", a.getError());
        }
        var out = new ByteArrayOutputStream();
        var encoder = EncoderFactory.get().binaryEncoder(out, null);
        new GenericDatumWriter<GenericRecord>(record.getSchema()).write(record, encoder);
        encoder.flush();
        return out.toByteArray();
    }

    private static JsonNode avroRead(byte[] payload, boolean admin) throws Exception {
        Schema schema = admin ? avroAdminEvent : avroEvent;
        var decoder = DecoderFactory.get().binaryDecoder(payload, null);
        GenericRecord record = new GenericDatumReader<GenericRecord>(schema).read(null, decoder);
        if (!decoder.isEnd()) throw new IllegalStateException("bytes left after the record");
        return JSON.readTree(GenericData.get().toString(record));
    }

    private static void protoSet(DynamicMessage.Builder builder, String field, Object value) {
        var descriptor = builder.getDescriptorForType().findFieldByName(field);
        if (descriptor != null && value != null) builder.setField(descriptor, value);
    }

    private static byte[] protoWrite(Object bean) {
        DynamicMessage.Builder builder;
        if (bean instanceof Event e) {
            builder = DynamicMessage.newBuilder(protoEvent);
            protoSet(builder, "id", e.getId()); protoSet(builder, "time", e.getTime());
            protoSet(builder, "type", e.getType() != null ? e.getType().name() : null);
            protoSet(builder, "realm_id", e.getRealmId()); protoSet(builder, "realm_name", e.getRealmName());
            protoSet(builder, "client_id", e.getClientId()); protoSet(builder, "user_id", e.getUserId());
            protoSet(builder, "session_id", e.getSessionId()); protoSet(builder, "ip_address", e.getIpAddress());
            protoSet(builder, "error", e.getError());
            if (e.getDetails() != null) {
                var field = protoEvent.findFieldByName("details");
                var entry = field.getMessageType();
                e.getDetails().forEach((k, v) -> builder.addRepeatedField(field, DynamicMessage.newBuilder(entry)
                    .setField(entry.findFieldByName("key"), k).setField(entry.findFieldByName("value"), v).build()));
            }
        } else {
            var a = (AdminEvent) bean;
            builder = DynamicMessage.newBuilder(protoAdminEvent);
            protoSet(builder, "id", a.getId()); protoSet(builder, "time", a.getTime());
            protoSet(builder, "realm_id", a.getRealmId()); protoSet(builder, "realm_name", a.getRealmName());
            AuthDetails ad = a.getAuthDetails();
            if (ad != null) {
                var auth = DynamicMessage.newBuilder(protoAuthDetails);
                protoSet(auth, "realm_id", ad.getRealmId()); protoSet(auth, "realm_name", ad.getRealmName());
                protoSet(auth, "client_id", ad.getClientId()); protoSet(auth, "user_id", ad.getUserId());
                protoSet(auth, "ip_address", ad.getIpAddress());
                builder.setField(protoAdminEvent.findFieldByName("auth_details"), auth.build());
            }
            protoSet(builder, "resource_type", a.getResourceTypeAsString());
            protoSet(builder, "operation_type", a.getOperationType() != null ? a.getOperationType().name() : null);
            protoSet(builder, "resource_path", a.getResourcePath());
            protoSet(builder, "representation", a.getRepresentation()); protoSet(builder, "error", a.getError());
        }
        return builder.build().toByteArray();
    }

    /** Every field of the message by its .proto name, unset ones with their proto3 default. */
    private static JsonNode protoTree(Message message) {
        ObjectNode tree = JSON.createObjectNode();
        for (FieldDescriptor field : message.getDescriptorForType().getFields()) {
            Object value = message.getField(field);
            if (field.isMapField()) {
                ObjectNode map = tree.putObject(field.getName());
                for (Object entry : (List<?>) value) {
                    var m = (Message) entry;
                    var type = m.getDescriptorForType();
                    map.put((String) m.getField(type.findFieldByName("key")), (String) m.getField(type.findFieldByName("value")));
                }
            } else if (field.getJavaType() == FieldDescriptor.JavaType.MESSAGE) {
                if (message.hasField(field)) tree.set(field.getName(), protoTree((Message) value)); else tree.putNull(field.getName());
            } else if (value instanceof Long number) {
                tree.put(field.getName(), number);
            } else {
                tree.put(field.getName(), (String) value);
            }
        }
        return tree;
    }

    private static JsonNode protoRead(byte[] payload, boolean admin) throws Exception {
        return protoTree(DynamicMessage.parseFrom(admin ? protoAdminEvent : protoEvent, payload));
    }

    // ------------------------------------------------------------------ Jackson and the form

    private static JsonNode readForm(byte[] payload) {
        var fields = JSON.createObjectNode();
        for (String pair : new String(payload, StandardCharsets.UTF_8).split("&")) {
            String[] nameValue = pair.split("=", 2);
            fields.put(URLDecoder.decode(nameValue[0], StandardCharsets.UTF_8),
                       URLDecoder.decode(nameValue[1], StandardCharsets.UTF_8));
        }
        return fields;
    }

    /** The parts of a multipart/form-data payload (the original's fixed boundary) by their names. */
    private static JsonNode readMultipart(byte[] payload) throws Exception {
        var multipart = new MimeMultipart(new ByteArrayDataSource(payload, "multipart/form-data; boundary=kete-boundary"));
        var fields = JSON.createObjectNode();
        for (int i = 0; i < multipart.getCount(); i++) {
            var part = multipart.getBodyPart(i);
            String name = new ContentDisposition(part.getHeader("Content-Disposition")[0]).getParameter("name");
            fields.put(name, new String(part.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
        }
        return fields;
    }

    private static byte[] write(String kind, JsonNode input) throws Exception {
        boolean admin = input.get("kind").asText().equals("ADMIN_EVENT");
        Class<?> type = admin ? AdminEvent.class : Event.class;
        Object bean = BEANS.treeToValue(input.get("event"), type);
        if (kind.equals("avro")) return avroWrite(bean);
        if (kind.equals("protobuf")) return protoWrite(bean);
        ObjectMapper mapper = MAPPERS.get(kind);
        ObjectWriter writer = mapper.writerFor(type);
        if (mapper instanceof CsvMapper csv) {
            // The original's CSV writer throws on nested values: kete writes them empty, so compare that.
            if (bean instanceof AdminEvent event) { event.setAuthDetails(null); event.setDetails(null); }
            if (bean instanceof Event event) { event.setDetails(null); }
            writer = writer.with(csv.schemaFor(type).withHeader());
        }
        return writer.writeValueAsBytes(bean);
    }

    private static JsonNode read(String kind, byte[] payload) throws Exception {
        if (kind.equals("url-encoded-form")) return readForm(payload);
        if (kind.equals("multipart-form")) return readMultipart(payload);
        // avro and protobuf carry no type: the harness is told which record ("avro-admin", "protobuf-admin").
        if (kind.startsWith("avro")) return avroRead(payload, kind.endsWith("-admin"));
        if (kind.startsWith("protobuf")) return protoRead(payload, kind.endsWith("-admin"));
        ObjectMapper mapper = MAPPERS.get(kind);
        // java.util.Properties reads ISO-8859-1; Jackson's byte reader would sign-extend bytes above 0x7F
        if (mapper instanceof JavaPropsMapper) return mapper.readTree(new String(payload, StandardCharsets.ISO_8859_1));
        if (mapper instanceof CsvMapper) return mapper.readerFor(JsonNode.class).with(CsvSchema.emptySchema().withHeader()).readValue(payload);
        return mapper.readTree(payload);
    }

    public static void main(String[] args) throws Exception {
        loadSchemas(Path.of(args[0]));
        System.setProperty("mail.mime.allowutf8", "true");  // part names are UTF-8, as browsers send them
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        PrintStream out = new PrintStream(System.out, true, "UTF-8");
        for (String line; (line = in.readLine()) != null; ) {
            String[] parts = line.split(" ", 3);
            try {
                if (parts[0].equals("write")) {
                    out.println(Base64.getEncoder().encodeToString(write(parts[1], JSON.readTree(parts[2]))));
                } else {
                    out.println(JSON.writeValueAsString(read(parts[1], Base64.getDecoder().decode(parts[2]))));
                }
            } catch (Exception e) {
                out.println("!" + e.toString().replace('\n', ' '));
            }
        }
    }
}
