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
import java.util.Objects;
import java.util.Set;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The Phi-3(-vision) tokenizer, reading a Hugging Face {@code tokenizer.json} and
 * {@code tokenizer_config.json}, and giving the same ids as {@code transformers}' fast tokenizer
 * ({@code AutoProcessor} / {@code LlamaTokenizerFast}, i.e. the Rust {@code tokenizers} library).
 *
 * <p>Encoding: the raw text is cut on the added tokens ({@code <|user|>}, {@code <|end|>}, ...,
 * leftmost-longest, with their {@code rstrip}/{@code lstrip} flags); every text segment in between is
 * normalized on its own (Phi-3: prepend {@code ▁}, spaces become {@code ▁}) and split into pieces by
 * BPE with byte fallback; {@code <s>} is put in front when special tokens are added. Decoding: per
 * token text with {@code ▁} as space, byte-fallback runs decoded as UTF-8 (U+FFFD per byte for an
 * invalid run), one leading space of the result removed. See {@code docs/tokenizer.md}.
 *
 * <p>Immutable and thread-safe: one instance can serve any number of threads.
 */
public final class Phi3Tokenizer {

    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final String TOKENIZER_JSON = "tokenizer.json";
    private static final String CONFIG_JSON = "tokenizer_config.json";

    private final BpeModel model;
    private final AddedVocabulary added;
    private final Normalizer normalizer;
    private final int[] prefixIds;
    private final int[] suffixIds;
    private final DecodeTable decodeTable;
    private final int vocabSize;
    private final int bosId;
    private final int eosTokenId;
    private final int[] eosIds;
    private final String chatTemplateSource;

    private Phi3Tokenizer(BpeModel model, AddedVocabulary added, Normalizer normalizer, int[] prefixIds,
                          int[] suffixIds, DecodeTable decodeTable, int vocabSize, int bosId, int eosTokenId,
                          int[] eosIds, String chatTemplateSource) {
        this.model = model;
        this.added = added;
        this.normalizer = normalizer;
        this.prefixIds = prefixIds;
        this.suffixIds = suffixIds;
        this.decodeTable = decodeTable;
        this.vocabSize = vocabSize;
        this.bosId = bosId;
        this.eosTokenId = eosTokenId;
        this.eosIds = eosIds;
        this.chatTemplateSource = chatTemplateSource;
    }

    // ------------------------------------------------------------------------------------------ loading

    /**
     * Loads {@code tokenizer.json} and {@code tokenizer_config.json} from a model folder as downloaded
     * from the Hugging Face hub.
     *
     * @param directory the model folder
     * @return the tokenizer
     * @throws TokenizerLoadException if a file is missing, unreadable or not a supported tokenizer; the
     *     message names the file and the field
     */
    public static Phi3Tokenizer fromDirectory(Path directory) {
        Objects.requireNonNull(directory, "directory");
        Path tok = directory.resolve(TOKENIZER_JSON);
        Path cfg = directory.resolve(CONFIG_JSON);
        return parse(readFile(tok), tok.toString(), readFile(cfg), cfg.toString());
    }

    /**
     * Loads the tokenizer from the contents of {@code tokenizer.json} and {@code tokenizer_config.json}.
     * The streams are read fully but not closed.
     *
     * @param tokenizerJson contents of {@code tokenizer.json}
     * @param tokenizerConfigJson contents of {@code tokenizer_config.json}
     * @return the tokenizer
     * @throws TokenizerLoadException if the JSON is invalid or not a supported tokenizer
     */
    public static Phi3Tokenizer fromJson(InputStream tokenizerJson, InputStream tokenizerConfigJson) {
        Objects.requireNonNull(tokenizerJson, "tokenizerJson");
        Objects.requireNonNull(tokenizerConfigJson, "tokenizerConfigJson");
        return parse(readStream(tokenizerJson, TOKENIZER_JSON), TOKENIZER_JSON,
                readStream(tokenizerConfigJson, CONFIG_JSON), CONFIG_JSON);
    }

    private static JsonNode readFile(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            return readStream(in, file.toString());
        } catch (NoSuchFileException e) {
            throw new TokenizerLoadException(file + ": file not found (expected a Hugging Face model folder with "
                    + TOKENIZER_JSON + " and " + CONFIG_JSON + ")", e);
        } catch (IOException e) {
            throw new TokenizerLoadException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    private static JsonNode readStream(InputStream in, String file) {
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

    private static Phi3Tokenizer parse(JsonNode tok, String tokFile, JsonNode cfg, String cfgFile) {
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
        return new Phi3Tokenizer(model, added, normalizer, template[0], template[1], table, idLimit, bosId,
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

    // ----------------------------------------------------------------------------------------- encoding

    /** The BPE model, for tests in this package. */
    BpeModel model() {
        return model;
    }

    /** The added tokens, for tests in this package. */
    AddedVocabulary added() {
        return added;
    }

    /** Normalizes one text segment, for tests in this package. */
    String normalize(String segment) {
        return normalizer.apply(segment);
    }

    /**
     * Encodes text like {@code tokenizer(text).input_ids} in Python: with {@code <s>} in front.
     *
     * @param text any text; special tokens written in it ({@code <|user|>}, {@code <|end|>}, ...) are
     *     recognized
     * @return the token ids
     */
    public int[] encode(String text) {
        return encode(text, true);
    }

    /**
     * Encodes text.
     *
     * @param text any text; special tokens written in it are recognized in both modes
     * @param addSpecialTokens whether to add the post-processor's tokens (for Phi-3: the leading
     *     {@code <s>}; never an EOS)
     * @return the token ids
     */
    public int[] encode(String text, boolean addSpecialTokens) {
        Objects.requireNonNull(text, "text");
        return encode(PromptEncoder.Prompt.of(text), addSpecialTokens);
    }

    /**
     * Encodes text in which no added token is recognised: {@code "<|end|>"} in it gives the ids of the
     * characters {@code <}, {@code |}, {@code end}, ... rather than 32007. Hugging Face's
     * {@code split_special_tokens=True} is the same except that it still matches the added tokens
     * that are not {@code special} ({@code </s>} in Phi-3); here none is matched. For text without
     * added-token text the result equals {@link #encode(String, boolean)}.
     *
     * @param text user or document text
     * @param addSpecialTokens whether to add the post-processor's tokens (the leading {@code <s>})
     * @return the token ids
     */
    public int[] encodeLiteral(String text, boolean addSpecialTokens) {
        Objects.requireNonNull(text, "text");
        return encode(List.of(PromptPiece.literal(text)), addSpecialTokens);
    }

    /**
     * Encodes a prompt built from pieces: like {@link #encode(String, boolean)} on the concatenation of
     * the pieces' texts, except that an added token is recognised only if it lies entirely inside one
     * {@linkplain PromptPiece#template template} piece (never in a literal piece, never across a piece
     * boundary). Text between recognised tokens is normalised and BPE-encoded as one run whatever pieces
     * it spans, and {@code rstrip} tokens swallow following whitespace across boundaries, so the result
     * equals {@code encode(concatenation)} whenever every added token that call recognises lies inside
     * one template piece, in particular when the literal pieces contain no added-token text.
     *
     * @param pieces the prompt, in order
     * @param addSpecialTokens whether to add the post-processor's tokens (the leading {@code <s>})
     * @return the token ids
     * @throws NullPointerException if {@code pieces} or one of its elements is null
     */
    public int[] encode(List<PromptPiece> pieces, boolean addSpecialTokens) {
        return encode(PromptEncoder.Prompt.of(pieces), addSpecialTokens);
    }

    /** Encodes a prompt, matching added tokens only inside its matchable ranges. */
    int[] encode(PromptEncoder.Prompt prompt, boolean addSpecialTokens) {
        return PromptEncoder.encode(prompt, added, normalizer, model, addSpecialTokens ? prefixIds : null,
                addSpecialTokens ? suffixIds : null);
    }

    /**
     * Encodes a Phi-3-V prompt exactly like {@code Phi3VProcessor} ({@code processing_phi3_v.py}): the
     * prompt is split on the {@code <|image_N|>} tags (see {@link ImageTags}); every chunk, empty ones
     * included, is encoded <em>with</em> {@code <s>}; between chunks, the tag for image {@code n} becomes
     * {@code imageTokenCounts[n-1]} copies of {@code -n}. So a {@code <s>} follows every image, and an
     * image at the end leaves a trailing {@code <s>}. With no images ({@code imageTokenCounts.length == 0})
     * the whole prompt is encoded normally and tags stay text.
     *
     * @param prompt the prompt (e.g. from {@link ChatTemplate#render})
     * @param imageTokenCounts number of image tokens of each image, in image order (image 1 first)
     * @return ids with negative placeholders {@code -imageId} for image positions
     * @throws IllegalArgumentException with the processor's message if the distinct tag numbers are not
     *     exactly {@code 1..k} ({@code "image_ids must start from 1, and must be continuous int, e.g. [1, 2,
     *     3], cannot be [2]"}) or {@code k} differs from the number of images ({@code "total images must be
     *     the same as the number of image tags, got 1 image tags and 2 images"}); if a count is negative;
     *     or if the ids would not fit in an {@code int[]} (repeated tags times their counts)
     */
    public int[] encodeMultimodal(String prompt, int[] imageTokenCounts) {
        Objects.requireNonNull(prompt, "prompt");
        return PromptEncoder.encodeMultimodal(this, PromptEncoder.Prompt.of(prompt), imageTokenCounts);
    }

    /**
     * Encodes a Phi-3-V prompt built from pieces like {@link #encodeMultimodal(String, int[])} on the
     * concatenation, except that image tags (and, inside the chunks, added tokens) are recognised only
     * inside one {@linkplain PromptPiece#template template} piece. A {@code <|image_3|>} typed in a
     * {@linkplain PromptPiece#literal literal} piece is text: it neither takes an image's place nor
     * counts for the tag checks. With only template pieces the result equals the String form on the
     * concatenation whenever no tag or added token crosses a piece boundary.
     *
     * @param pieces the prompt, in order; image tags belong in template pieces
     * @param imageTokenCounts number of image tokens of each image, in image order (image 1 first)
     * @return ids with negative placeholders {@code -imageId} for image positions
     * @throws IllegalArgumentException as {@link #encodeMultimodal(String, int[])}, counting only the
     *     tags in template pieces
     * @throws NullPointerException if {@code pieces} or one of its elements is null
     */
    public int[] encodeMultimodal(List<PromptPiece> pieces, int[] imageTokenCounts) {
        return PromptEncoder.encodeMultimodal(this, PromptEncoder.Prompt.of(pieces), imageTokenCounts);
    }

    // ----------------------------------------------------------------------------------------- decoding

    /**
     * Decodes ids to text like HF {@code tokenizer.decode(ids, skip_special_tokens=...)} (with
     * {@code clean_up_tokenization_spaces=False}, as configured for Phi-3). Ids the tokenizer does not
     * know (negative, or past the last added token, e.g. the embedding-only ids 32045..32063) are
     * silently dropped, as HF does; image placeholders (negative ids) are therefore dropped too.
     *
     * @param ids token ids
     * @param skipSpecialTokens drop tokens whose {@code special} flag is true ({@code <s>}, {@code <unk>},
     *     {@code <|end|>}, {@code <|image|>}, ...; not {@code </s>}, which is not special in this tokenizer)
     * @return the text
     */
    public String decode(int[] ids, boolean skipSpecialTokens) {
        Objects.requireNonNull(ids, "ids");
        StreamingDecoder d = new StreamingDecoder(decodeTable, skipSpecialTokens);
        StringBuilder sb = new StringBuilder(ids.length * 4);
        for (int id : ids) {
            sb.append(d.next(id));
        }
        sb.append(d.finish());
        return sb.toString();
    }

    /**
     * A new incremental decoder whose output concatenates to {@link #decode(int[], boolean)}.
     *
     * @param skipSpecialTokens as in {@code decode}
     * @return a fresh decoder for one stream of ids
     */
    public StreamingDecoder streamingDecoder(boolean skipSpecialTokens) {
        return new StreamingDecoder(decodeTable, skipSpecialTokens);
    }

    // ------------------------------------------------------------------------------------ vocabulary

    /**
     * The token string of an id ({@code "▁Hello"}, {@code "<0x0A>"}, {@code "<|end|>"}).
     *
     * @param id a token id
     * @return the token, or {@code null} if the id is not in the tokenizer
     */
    public String idToToken(int id) {
        AddedVocabulary.AddedToken a = added.byId(id);
        return a != null ? a.content() : model.token(id);
    }

    /**
     * The id of a token string (added tokens first, then the BPE vocab).
     *
     * @param token a token string such as {@code "▁world"} or {@code "<|user|>"}
     * @return the id, or -1 if there is no such token
     */
    public int tokenToId(String token) {
        AddedVocabulary.AddedToken a = added.byContent(token);
        if (a != null) {
            return a.id();
        }
        Integer id = model.id(token);
        return id == null ? -1 : id;
    }

    /**
     * Number of ids including added tokens (HF {@code get_vocab_size(with_added_tokens=True)}); 32045
     * for Phi-3-vision. The model's embedding may have more rows (32064).
     *
     * @return highest id + 1
     */
    public int vocabSize() {
        return vocabSize;
    }

    /**
     * The id of {@code bos_token} ({@code <s>}, 1).
     *
     * @return the BOS id
     */
    public int bosId() {
        return bosId;
    }

    /**
     * The id of {@code eos_token} from {@code tokenizer_config.json} ({@code <|endoftext|>}, 32000).
     *
     * @return the configured EOS id
     */
    public int eosTokenId() {
        return eosTokenId;
    }

    /**
     * Ids that end a generation: {@link #eosTokenId()}, then {@code <|end|>} and {@code </s>} when the
     * tokenizer has them. For Phi-3-vision: {@code [32000, 32007, 2]}. (The chat template ends every
     * turn with {@code <|end|>}; stopping at {@code eos_token} alone lets chat output run on.)
     *
     * @return a fresh array of stop ids
     */
    public int[] eosIds() {
        return eosIds.clone();
    }

    /**
     * The {@code chat_template} string of {@code tokenizer_config.json}, if it is a single string.
     *
     * @return the Jinja source, or {@code null}
     */
    public String chatTemplateSource() {
        return chatTemplateSource;
    }
}
