package io.github.phi3v.core;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;

import io.github.phi3v.core.generate.GenerationConfig;
import io.github.phi3v.core.generate.TokenBudget;
import io.github.phi3v.core.model.PlaceholderRuns;
import io.github.phi3v.image.ImageLoader;
import io.github.phi3v.image.ImageProcessingException;
import io.github.phi3v.image.Phi3ImageProcessor;
import io.github.phi3v.image.RgbImage;
import io.github.phi3v.tokenizer.ImageTags;
import io.github.phi3v.tokenizer.Message;
import io.github.phi3v.tokenizer.Phi3Tokenizer;
import io.github.phi3v.tokenizer.PromptPiece;

/**
 * Turns a {@link ChatRequest} into a {@link PromptPlan}: the one place where a conversation becomes
 * prompt ids. Every limit is checked as early as it can be: the number of images before any is decoded,
 * the image tags before the prompt is expanded, the context and prompt budgets before any image is
 * preprocessed or encoded.
 *
 * <p>Rendering follows the Phi-3 chat template ({@code <|role|>\n{content}<|end|>\n}, then
 * {@code <|assistant|>\n}) and the official processor's tokenization (see
 * {@link Phi3Tokenizer#encodeMultimodal(String, int[])}). A user message's image parts become
 * {@code <|image_N|>\n} at their place, numbered across the conversation, unless the message's text
 * already has tags (Hugging Face mode only: its tags then refer to the images by number). In literal-text
 * mode message text is encoded with no special token recognised and tags come only from image parts.
 */
final class PromptPlanner {

    private final Phi3Tokenizer tokenizer;
    private final ImageLoader loader;
    private final int defaultNumCrops;
    private final Limits limits;

    PromptPlanner(Phi3Tokenizer tokenizer, ImageLoader loader, int defaultNumCrops, Limits limits) {
        this.tokenizer = tokenizer;
        this.loader = loader;
        this.defaultNumCrops = defaultNumCrops;
        this.limits = limits;
    }

    /** Validates, decodes the images, renders and tokenizes the request. */
    PromptPlan plan(ChatRequest request) {
        Objects.requireNonNull(request, "request");
        GenerationConfig config = request.config();
        int requestCrops = request.numCrops().orElse(defaultNumCrops);
        List<ImageInput> inputs = request.images();
        int n = inputs.size();
        if (n > limits.maxImagesPerPrompt()) {   // before anything is decoded
            throw limits.tooManyImages(n, "the conversation has");
        }
        List<Piece> pieces = render(request.messages(), request.literalText());
        // HF mode: the tags written in the text are read once, and checked before anything is expanded.
        List<Integer> tags = n > 0 && !request.literalText() ? tagIds(concat(pieces)) : List.of();
        checkTags(tags);

        List<PromptPlan.PlannedImage> images = new ArrayList<>(n);
        int[] counts = new int[n];
        for (int i = 0; i < n; i++) {
            ImageInput in = inputs.get(i);
            int crops = in.numCrops().orElse(requestCrops);
            RgbImage image;
            try {
                image = in.load(loader);
            } catch (ImageProcessingException e) {
                throw n == 1 ? e : e.forImage(i, n);   // among several: say which one
            }
            counts[i] = Phi3ImageProcessor.numImageTokens(image.width(), image.height(), crops);
            images.add(new PromptPlan.PlannedImage(image, new PromptPlan.ImageKey(sha256(image), crops), counts[i]));
        }
        if (!tags.isEmpty()) {
            checkTaggedTokens(tags, counts, config, requestCrops);
        }
        int[] ids = encode(pieces, counts, request.literalText());
        PlaceholderRuns runs = PlaceholderRuns.of(ids, n);
        TokenBudget.check(runs.textTokens(), runs.tokensPerImage(), config.maxNewTokens(), limits.maxContext(),
                requestCrops);
        limits.checkPromptTokens(runs.textTokens(), runs.imageTokens());
        return new PromptPlan(ids, List.copyOf(images), runs);
    }

    /**
     * The conversation as the chat template sees it, for display: each message's content with the image
     * tags the prompt gives it.
     */
    static List<Message> history(List<ChatMessage> messages, boolean literal) {
        List<Message> out = new ArrayList<>(messages.size());
        int[] imageNumber = {0};
        for (ChatMessage m : messages) {
            StringBuilder content = new StringBuilder();
            for (Piece p : content(m, literal, imageNumber)) {
                content.append(p.text());
            }
            out.add(new Message(m.role().templateName(), content.toString()));
        }
        return out;
    }

    // ------------------------------------------------------------------------------ rendering

    /** Text of the prompt in order; {@code literal} pieces are message text in literal-text mode. */
    private record Piece(String text, boolean literal) {
    }

    private static List<Piece> render(List<ChatMessage> messages, boolean literal) {
        List<Piece> pieces = new ArrayList<>();
        int[] imageNumber = {0};
        for (ChatMessage m : messages) {
            pieces.add(new Piece("<|" + m.role().templateName() + "|>\n", false));
            pieces.addAll(content(m, literal, imageNumber));
            pieces.add(new Piece("<|end|>\n", false));
        }
        pieces.add(new Piece("<|assistant|>\n", false));   // the last message is the user's (ChatRequest checks)
        return pieces;
    }

    /** One message's content; advances {@code imageNumber[0]} by the message's images. */
    private static List<Piece> content(ChatMessage m, boolean literal, int[] imageNumber) {
        List<Piece> out = new ArrayList<>();
        boolean autoTags = literal || !hasTags(m.text());
        for (ContentPart part : m.parts()) {
            if (part instanceof ContentPart.Image) {
                imageNumber[0]++;
                if (autoTags) {
                    out.add(new Piece(ImageTags.tag(imageNumber[0]) + "\n", false));
                }
            } else {
                out.add(new Piece(((ContentPart.Text) part).text(), literal));
            }
        }
        return out;
    }

    private static boolean hasTags(String text) {
        try {
            return !ImageTags.imageIdsInOrder(text).isEmpty();
        } catch (IllegalArgumentException tooLarge) {
            return true;   // a tag whose number overflows: reported by the tag checks
        }
    }

    private int[] encode(List<Piece> pieces, int[] counts, boolean literal) {
        if (literal) {
            List<PromptPiece> texts = new ArrayList<>(pieces.size());
            for (Piece p : pieces) {
                texts.add(p.literal() ? PromptPiece.literal(p.text()) : PromptPiece.template(p.text()));
            }
            return tokenizer.encodeMultimodal(texts, counts);
        }
        String prompt = concat(pieces);
        if (counts.length == 0) {
            return tokenizer.encode(prompt);   // like the official processor: without images, tags stay text
        }
        try {
            return tokenizer.encodeMultimodal(prompt, counts);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("the image tags of the conversation do not match its " + counts.length
                    + " image(s): tags in order " + tagsOf(prompt) + ", expected every image 1.." + counts.length
                    + " to be tagged (leave the tags out to have them inserted): " + e.getMessage(), e);
        }
    }

    // ------------------------------------------------------------------------------ tag checks (HF mode)

    /**
     * Refuses a tag {@code <|image_N|>} with {@code N} beyond {@code maxImagesPerPrompt} before anything is
     * decoded (a prompt can never hold that many images). Unparseable tags are left to the tag-mismatch check.
     */
    private void checkTags(List<Integer> tags) {
        int limit = limits.maxImagesPerPrompt();
        for (int id : tags) {
            if (id > limit) {
                throw new LimitExceededException("maxImagesPerPrompt", id, limit, "the message refers to image "
                        + id + " (" + ImageTags.tag(id) + "), but maxImagesPerPrompt is " + limit + ": a prompt"
                        + " holds at most " + limit + " images (Phi3Vision.builder().maxImagesPerPrompt(n) raises"
                        + " it)");
            }
        }
    }

    /**
     * Repeated tags multiply an image's tokens: checks the budget on the tags alone before expanding them
     * (a few MB of {@code <|image_1|>} would otherwise allocate gigabytes of ids).
     */
    private void checkTaggedTokens(List<Integer> tags, int[] counts, GenerationConfig config, int numCrops) {
        int[] tagged = new int[counts.length];
        for (int id : tags) {
            if (id >= 1 && id <= counts.length) {
                tagged[id - 1] = (int) Math.min(Integer.MAX_VALUE, (long) tagged[id - 1] + counts[id - 1]);
            }
        }
        TokenBudget.check(0, tagged, config.maxNewTokens(), limits.maxContext(), numCrops);
        long total = 0;
        for (int t : tagged) {
            total += t;
        }
        limits.checkTaggedImageTokens(total);
    }

    private static List<Integer> tagIds(String prompt) {
        try {
            return ImageTags.imageIdsInOrder(prompt);
        } catch (IllegalArgumentException unparseable) {
            return List.of();   // reported with the tag-mismatch message when tokenizing
        }
    }

    private static String tagsOf(String prompt) {
        try {
            return ImageTags.imageIdsInOrder(prompt).toString();
        } catch (IllegalArgumentException e) {
            return "(unreadable: " + e.getMessage() + ")";
        }
    }

    private static String concat(List<Piece> pieces) {
        StringBuilder sb = new StringBuilder();
        for (Piece p : pieces) {
            sb.append(p.text());
        }
        return sb.toString();
    }

    static String sha256(RgbImage img) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update(ByteBuffer.allocate(8).putInt(img.width()).putInt(img.height()).array());
            md.update(img.rgb());
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JVM has no SHA-256", e);
        }
    }
}
