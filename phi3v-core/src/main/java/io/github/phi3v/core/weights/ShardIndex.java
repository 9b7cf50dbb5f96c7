package io.github.phi3v.core.weights;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;

/** A sharded checkpoint's {@code model.safetensors.index.json}, checked against its shards' headers. */
final class ShardIndex {

    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .build();

    private ShardIndex() {
    }

    /**
     * Reads the index ({@code weight_map: name -> shard}), then every shard, and checks that they agree
     * in both directions: each listed shard exists, each tensor is in the shard the index names, and
     * no shard holds a tensor the index does not list.
     */
    static Map<String, TensorInfo> read(Path indexFile) {
        JsonNode root;
        try {
            root = JSON.readTree(Files.readString(indexFile));
        } catch (NoSuchFileException e) {
            throw new InvalidCheckpointException(indexFile + ": expected a safetensors index, found no such file", e);
        } catch (JsonProcessingException e) {
            throw new InvalidCheckpointException(indexFile + ": expected a JSON object, found malformed JSON ("
                    + e.getOriginalMessage() + ")", e);
        } catch (IOException e) {
            throw new InvalidCheckpointException(indexFile + ": cannot read: " + e, e);
        }
        JsonNode map = root == null ? null : root.get("weight_map");
        if (map == null || !map.isObject()) {
            throw new InvalidCheckpointException(indexFile + ": weight_map: expected an object {tensor name: shard "
                    + "file}, found " + (map == null ? "no value" : map.getNodeType().toString().toLowerCase()));
        }
        Path dir = indexFile.toAbsolutePath().getParent();
        Map<String, List<String>> byShard = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isTextual()) {
                throw new InvalidCheckpointException(indexFile + ": weight_map." + e.getKey()
                        + ": expected a shard file name, found " + e.getValue());
            }
            byShard.computeIfAbsent(e.getValue().textValue(), k -> new ArrayList<>()).add(e.getKey());
        }
        if (byShard.isEmpty()) {
            throw new InvalidCheckpointException(indexFile + ": weight_map: expected at least one tensor, found none");
        }
        // Read every shard's header first, then compare both ways, so a tensor stored in the wrong shard
        // is reported with both the shard the index names and the shard that has it.
        Map<String, TensorInfo> actual = new LinkedHashMap<>();
        for (Map.Entry<String, List<String>> e : byShard.entrySet()) {
            String shardName = e.getKey();
            List<String> listed = e.getValue();
            Path shard = dir.resolve(shardName).normalize();
            if (!shard.startsWith(dir.normalize()) || shardName.isEmpty()) {
                throw new InvalidCheckpointException(indexFile + ": shard '" + shardName + "': expected a file name "
                        + "inside " + dir + ", found a path outside it");
            }
            if (!Files.isRegularFile(shard)) {
                throw new InvalidCheckpointException(indexFile + ": shard '" + shardName + "' (listed for "
                        + listed.size() + " tensors, e.g. '" + listed.get(0) + "') is missing: expected " + shard
                        + " to exist; download it again");
            }
            for (TensorInfo t : SafetensorsFile.read(shard).tensors().values()) {
                TensorInfo twin = actual.putIfAbsent(t.name(), t);
                if (twin != null) {
                    throw new InvalidCheckpointException(indexFile + ": tensor '" + t.name() + "': expected in one "
                            + "shard, found in both '" + twin.file().getFileName() + "' and '" + shardName + "'");
                }
            }
        }
        Map<String, TensorInfo> all = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> e = it.next();
            String name = e.getKey();
            String shardName = e.getValue().textValue();
            TensorInfo t = actual.get(name);
            if (t == null || !dir.resolve(shardName).normalize().equals(t.file().normalize())) {
                throw new InvalidCheckpointException(indexFile + ": tensor '" + name + "': expected in shard '"
                        + shardName + "' as the index says, found " + (t == null ? "it in no shard"
                                : "it in shard '" + t.file().getFileName() + "'"));
            }
            all.put(name, t);
        }
        for (TensorInfo t : actual.values()) {
            if (!all.containsKey(t.name())) {
                throw new InvalidCheckpointException(indexFile + ": tensor '" + t.name() + "': found in shard '"
                        + t.file().getFileName() + "', expected it to be listed in weight_map");
            }
        }
        return all;
    }
}
