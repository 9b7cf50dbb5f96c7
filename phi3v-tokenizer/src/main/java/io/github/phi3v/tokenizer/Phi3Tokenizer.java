package io.github.phi3v.tokenizer;

import java.io.InputStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

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

    private Phi3Tokenizer(TokenizerJson.Parts p) {
        this.model = p.model();
        this.added = p.added();
        this.normalizer = p.normalizer();
        this.prefixIds = p.prefixIds();
        this.suffixIds = p.suffixIds();
        this.decodeTable = p.decodeTable();
        this.vocabSize = p.vocabSize();
        this.bosId = p.bosId();
        this.eosTokenId = p.eosTokenId();
        this.eosIds = p.eosIds();
        this.chatTemplateSource = p.chatTemplateSource();
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
        Path tok = directory.resolve(TokenizerJson.TOKENIZER_JSON);
        Path cfg = directory.resolve(TokenizerJson.CONFIG_JSON);
        return new Phi3Tokenizer(TokenizerJson.parse(TokenizerJson.readFile(tok), tok.toString(),
                TokenizerJson.readFile(cfg), cfg.toString()));
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
        return new Phi3Tokenizer(TokenizerJson.parse(
                TokenizerJson.readStream(tokenizerJson, TokenizerJson.TOKENIZER_JSON), TokenizerJson.TOKENIZER_JSON,
                TokenizerJson.readStream(tokenizerConfigJson, TokenizerJson.CONFIG_JSON), TokenizerJson.CONFIG_JSON));
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
