package io.github.phi3v.tokenizer;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Reads a Hugging Face {@code tokenizer.json} and {@code tokenizer_config.json} into the parts of a
 * {@link Phi3Tokenizer}: the BPE model, the added tokens, the normalizer, the ids the post-processor puts
 * around a text, the decode table, the special ids and the chat template. Everything the tokenizer does
 * not support is refused with a {@link TokenizerLoadException} naming the file and the field.
 */
final class TokenizerJson {

    static final String TOKENIZER_JSON = "tokenizer.json";
    static final String CONFIG_JSON = "tokenizer_config.json";

    private static final ObjectMapper MAPPER = new ObjectMapper();

    private TokenizerJson() {
    }

    /** What {@link #parse} reads; {@code prefixIds}/{@code suffixIds} go around a text with special tokens. */
    record Parts(BpeModel model, AddedVocabulary added, Normalizer normalizer, int[] prefixIds, int[] suffixIds,
            DecodeTable decodeTable, int vocabSize, int bosId, int eosTokenId, int[] eosIds,
            String chatTemplateSource) {
    }

    /** The top-level JSON object of a file; a missing file says which folder layout is expected. */
    static JsonNode readFile(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            return readStream(in, file.toString());
        } catch (NoSuchFileException e) {
            throw new TokenizerLoadException(file + ": file not found (expected a Hugging Face model folder with "
                    + TOKENIZER_JSON + " and " + CONFIG_JSON + ")", e);
        } catch (IOException e) {
            throw new TokenizerLoadException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    /** The top-level JSON object of a stream (read fully, not closed); {@code file} names it in messages. */
    static JsonNode readStream(InputStream in, String file) {
        try {
            JsonNode node = MAPPER.readTree(in);
            if (node == null || !node.isObject()) {
                throw new TokenizerLoadException(file + ": expected a JSON object at the top level, found "
                        + (node == null ? "nothing" : node.getNodeType().toString().toLowerCase()));
            }
            return node;
        } catch (IOException e) {
            throw new TokenizerLoadException(file + ": invalid JSON: " + e.getMessage(), e);
        }
    }

    /**
     * The tokenizer described by the two files, every field checked.
     *
     * @param tok the parsed {@code tokenizer.json}
     * @param tokFile its name in messages
     * @param cfg the parsed {@code tokenizer_config.json}
     * @param cfgFile its name in messages
     * @return the parts
     * @throws TokenizerLoadException naming the file and the field of the first problem
     */
    static Parts parse(JsonNode tok, String tokFile, JsonNode cfg, String cfgFile) {
        JsonNode preTokenizer = tok.get("pre_tokenizer");
        if (preTokenizer != null && !preTokenizer.isNull()) {
            throw new TokenizerLoadException(tokFile + ": field pre_tokenizer is " + Json.abbreviate(preTokenizer)
                    + "; only tokenizers without a pre-tokenizer (Llama/Phi-3 style, pre_tokenizer: null) are supported");
        }
        List<AddedVocabulary.AddedToken> addedTokens = parseAddedTokens(tok, tokFile);
        AddedVocabulary added = new AddedVocabulary(addedTokens);

        // ---- model
        JsonNode m = Json.required(tok, "model", tokFile, "");
        String type = Json.text(m, "type", tokFile, "model");
        if (!type.equals("BPE")) {
            throw new TokenizerLoadException(tokFile + ": field model.type is \"" + type + "\", expected \"BPE\"");
        }
        JsonNode dropout = m.get("dropout");
        if (dropout != null && !dropout.isNull() && dropout.asDouble() != 0.0) {
            throw new TokenizerLoadException(tokFile + ": field model.dropout is " + dropout
                    + "; BPE dropout (random segmentation) is not supported, expected null");
        }
        for (String field : new String[] {"continuing_subword_prefix", "end_of_word_suffix"}) {
            JsonNode v = m.get(field);
            if (v != null && !v.isNull() && !v.asText().isEmpty()) {
                throw new TokenizerLoadException(tokFile + ": field model." + field + " is " + v
                        + "; only null is supported");
            }
        }
        JsonNode vocabNode = Json.required(m, "vocab", tokFile, "model");
        if (!vocabNode.isObject()) {
            throw new TokenizerLoadException(tokFile + ": field model.vocab must be an object {token: id}");
        }
        Map<String, Integer> vocab = new HashMap<>(vocabNode.size() * 2);
        int maxId = added.maxId();
        for (Iterator<Map.Entry<String, JsonNode>> it = vocabNode.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode idNode = e.getValue();
            if (!idNode.canConvertToInt() || idNode.asInt() < 0) {
                throw new TokenizerLoadException(tokFile + ": field model.vocab[\"" + e.getKey()
                        + "\"] must be a non-negative integer id, found " + idNode);
            }
            vocab.put(e.getKey(), idNode.asInt());
            maxId = Math.max(maxId, idNode.asInt());
        }
        int idLimit = maxId + 1;
        int[][] merges = parseMerges(Json.array(m, "merges", tokFile, "model"), vocab, tokFile);
        boolean byteFallback = Json.bool(m, "byte_fallback", false, tokFile, "model");
        boolean fuseUnk = Json.bool(m, "fuse_unk", false, tokFile, "model");
        boolean ignoreMerges = Json.bool(m, "ignore_merges", false, tokFile, "model");
        int unkId = -1;
        JsonNode unk = m.get("unk_token");
        if (unk != null && !unk.isNull()) {
            Integer id = vocab.get(unk.asText());
            if (id == null) {
                throw new TokenizerLoadException(tokFile + ": field model.unk_token \"" + unk.asText()
                        + "\" is not in model.vocab");
            }
            unkId = id;
        }
        BpeModel model = new BpeModel(vocab, idLimit, merges, byteFallback, unkId, fuseUnk, ignoreMerges, tokFile);
        Normalizer normalizer = Normalizer.parse(tok.get("normalizer"), tokFile);
        DecoderSpec decoder = DecoderSpec.parse(tok.get("decoder"), tokFile);

        // ---- tokenizer_config.json: special tokens and the post-processor override
        String bosToken = tokenContent(cfg, "bos_token", cfgFile);
        String eosToken = tokenContent(cfg, "eos_token", cfgFile);
        int bosId = idOf(bosToken, vocab, added, cfgFile, "bos_token");
        int eosTokenId = idOf(eosToken, vocab, added, cfgFile, "eos_token");
        int[][] template = postProcessor(tok, tokFile, cfg, cfgFile, bosId, eosTokenId, vocab, added);

        Set<Integer> eos = new LinkedHashSet<>();
        eos.add(eosTokenId);
        for (String stop : new String[] {"<|end|>", "</s>"}) {
            AddedVocabulary.AddedToken t = added.byContent(stop);
            if (t != null) {
                eos.add(t.id());
            }
        }
        JsonNode chat = cfg.get("chat_template");
        String chatTemplate = chat != null && chat.isTextual() ? chat.asText() : null;

        // ---- decode table
        String[] text = new String[idLimit];
        int[] byteValue = new int[idLimit];
        boolean[] special = new boolean[idLimit];
        for (int id = 0; id < idLimit; id++) {
            AddedVocabulary.AddedToken a = added.byId(id);
            String token = a != null ? a.content() : model.token(id);
            byteValue[id] = -1;
            if (token == null) {
                continue;
            }
            text[id] = decoder.replace(token);
            if (decoder.byteFallback()) {
                byteValue[id] = DecoderSpec.byteValue(text[id]);
            }
            AddedVocabulary.AddedToken byContent = added.byContent(token);
            special[id] = byContent != null && byContent.special();
        }
        DecodeTable table = new DecodeTable(text, byteValue, special, decoder.stripChar(), decoder.stripStart());
        return new Parts(model, added, normalizer, template[0], template[1], table, idLimit, bosId,
                eosTokenId, eos.stream().mapToInt(Integer::intValue).toArray(), chatTemplate);
    }

    private static List<AddedVocabulary.AddedToken> parseAddedTokens(JsonNode tok, String file) {
        List<AddedVocabulary.AddedToken> out = new ArrayList<>();
        JsonNode list = tok.get("added_tokens");
        if (list == null || list.isNull()) {
            return out;
        }
        if (!list.isArray()) {
            throw new TokenizerLoadException(file + ": field added_tokens must be an array");
        }
        for (int i = 0; i < list.size(); i++) {
            JsonNode t = list.get(i);
            String field = "added_tokens[" + i + "]";
            AddedVocabulary.AddedToken token = new AddedVocabulary.AddedToken(
                    Json.integer(t, "id", file, field), Json.text(t, "content", file, field),
                    Json.bool(t, "special", false, file, field), Json.bool(t, "single_word", false, file, field),
                    Json.bool(t, "lstrip", false, file, field), Json.bool(t, "rstrip", false, file, field),
                    Json.bool(t, "normalized", false, file, field));
            if (token.normalized()) {
                throw new TokenizerLoadException(file + ": field " + field + ".normalized is true for \""
                        + token.content() + "\"; only added tokens matched on the raw text (normalized: false)"
                        + " are supported");
            }
            if (token.content().isEmpty()) {
                throw new TokenizerLoadException(file + ": field " + field + ".content is empty");
            }
            out.add(token);
        }
        return out;
    }

    /** Merges as {@code [leftId, rightId, mergedId]} in rank order; both JSON forms are accepted. */
    private static int[][] parseMerges(JsonNode merges, Map<String, Integer> vocab, String file) {
        int[][] out = new int[merges.size()][];
        for (int i = 0; i < out.length; i++) {
            JsonNode m = merges.get(i);
            String left;
            String right;
            if (m.isTextual()) {
                String[] parts = m.asText().split(" ", -1);
                if (parts.length != 2) {
                    throw new TokenizerLoadException(file + ": field model.merges[" + i + "] must be \"left right\","
                            + " found \"" + m.asText() + "\"");
                }
                left = parts[0];
                right = parts[1];
            } else if (m.isArray() && m.size() == 2 && m.get(0).isTextual() && m.get(1).isTextual()) {
                left = m.get(0).asText();
                right = m.get(1).asText();
            } else {
                throw new TokenizerLoadException(file + ": field model.merges[" + i
                        + "] must be \"left right\" or [\"left\", \"right\"], found " + Json.abbreviate(m));
            }
            Integer a = vocab.get(left);
            Integer b = vocab.get(right);
            Integer merged = vocab.get(left + right);
            if (a == null || b == null || merged == null) {
                String missing = a == null ? left : b == null ? right : left + right;
                throw new TokenizerLoadException(file + ": field model.merges[" + i + "] (" + left + " + " + right
                        + "): token \"" + missing + "\" is not in model.vocab");
            }
            out[i] = new int[] {a, b, merged};
        }
        return out;
    }

    /** {@code bos_token} etc. written either as a string or as an AddedToken object {content: ...}. */
    private static String tokenContent(JsonNode cfg, String field, String file) {
        JsonNode v = Json.required(cfg, field, file, "");
        if (v.isTextual()) {
            return v.asText();
        }
        if (v.isObject()) {
            return Json.text(v, "content", file, field);
        }
        throw new TokenizerLoadException(file + ": field " + field + " must be a string or {\"content\": ...},"
                + " found " + Json.abbreviate(v));
    }

    private static int idOf(String token, Map<String, Integer> vocab, AddedVocabulary added, String file,
                            String field) {
        AddedVocabulary.AddedToken a = added.byContent(token);
        if (a != null) {
            return a.id();
        }
        Integer id = vocab.get(token);
        if (id == null) {
            throw new TokenizerLoadException(file + ": field " + field + " is \"" + token
                    + "\", which is neither an added token nor in the vocab");
        }
        return id;
    }

    /**
     * The ids put before and after the text when special tokens are added. {@code transformers}'
     * {@code LlamaTokenizerFast} (used whenever {@code tokenizer_class} is {@code LlamaTokenizer[Fast]})
     * rebuilds the post-processor from {@code add_bos_token} (default true) and {@code add_eos_token}
     * (default false); other classes keep the {@code TemplateProcessing} of {@code tokenizer.json}.
     */
    private static int[][] postProcessor(JsonNode tok, String tokFile, JsonNode cfg, String cfgFile, int bosId,
                                         int eosId, Map<String, Integer> vocab, AddedVocabulary added) {
        JsonNode cls = cfg.get("tokenizer_class");
        if (cls != null && (cls.asText().equals("LlamaTokenizer") || cls.asText().equals("LlamaTokenizerFast"))) {
            boolean addBos = Json.bool(cfg, "add_bos_token", true, cfgFile, "");
            boolean addEos = Json.bool(cfg, "add_eos_token", false, cfgFile, "");
            return new int[][] {addBos ? new int[] {bosId} : new int[0], addEos ? new int[] {eosId} : new int[0]};
        }
        JsonNode pp = tok.get("post_processor");
        if (pp == null || pp.isNull()) {
            return new int[][] {new int[0], new int[0]};
        }
        String type = Json.text(pp, "type", tokFile, "post_processor");
        if (!type.equals("TemplateProcessing")) {
            throw new TokenizerLoadException(tokFile + ": field post_processor.type is \"" + type
                    + "\"; only TemplateProcessing (or null) is supported");
        }
        JsonNode single = Json.array(pp, "single", tokFile, "post_processor");
        JsonNode specials = Json.required(pp, "special_tokens", tokFile, "post_processor");
        List<Integer> before = new ArrayList<>();
        List<Integer> after = new ArrayList<>();
        boolean seenSequence = false;
        for (int i = 0; i < single.size(); i++) {
            JsonNode piece = single.get(i);
            String field = "post_processor.single[" + i + "]";
            if (piece.has("Sequence")) {
                seenSequence = true;
            } else if (piece.has("SpecialToken")) {
                String name = Json.text(piece.get("SpecialToken"), "id", tokFile, field + ".SpecialToken");
                JsonNode ids = Json.array(Json.required(specials, name, tokFile, "post_processor.special_tokens"),
                        "ids", tokFile, "post_processor.special_tokens." + name);
                for (JsonNode id : ids) {
                    (seenSequence ? after : before).add(id.asInt());
                }
            } else {
                throw new TokenizerLoadException(tokFile + ": field " + field
                        + " must be {\"Sequence\": ...} or {\"SpecialToken\": ...}, found " + Json.abbreviate(piece));
            }
        }
        return new int[][] {before.stream().mapToInt(Integer::intValue).toArray(),
                after.stream().mapToInt(Integer::intValue).toArray()};
    }
}
