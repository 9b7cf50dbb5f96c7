package io.github.phi3v.core;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.Supplier;

import io.github.phi3v.core.generate.Answer;
import io.github.phi3v.core.generate.GenerationConfig;
import io.github.phi3v.image.RgbImage;
import io.github.phi3v.tokenizer.Message;

/**
 * The state of one {@link Session}'s conversation: the system message, the finished turns, the images
 * waiting for the next question and the settings of the next question; it turns a question into the
 * {@link ChatRequest} the engine answers and takes the answer back as a new turn.
 *
 * <p>The settings are plain fields the session sets; the counters are written here and read by the session.
 * Not thread-safe: the owning session lets one call at a time in.
 */
final class Conversation {

    private final Limits limits;
    private final List<ChatMessage> turns = new ArrayList<>();
    private final List<ImageInput> pending = new ArrayList<>();

    // Settings of the following questions.
    String system;
    int numCrops;
    boolean literalText;
    GenerationConfig config = GenerationConfig.defaults();

    // What happened so far.
    int imageCount;
    int visionEncodings;
    int lastReusedTokens;
    Answer lastAnswer;

    Conversation(Limits limits, int numCrops) {
        this.limits = limits;
        this.numCrops = numCrops;
    }

    /** Adds an image to the next question; the image limit is checked before {@code load} decodes it. */
    void addImage(Supplier<RgbImage> load) {
        // Before decoding: a client must not be able to make the session hold unbounded pixels.
        if (imageCount >= limits.maxImagesPerPrompt()) {
            throw limits.tooManyImages(imageCount + 1L, "adding this image would give the conversation");
        }
        pending.add(ImageInput.of(load.get()));
        imageCount++;
    }

    /** The next user message: pending images (crop budget fixed now), then the text. */
    ChatMessage userMessage(String text) {
        List<ContentPart> parts = new ArrayList<>(pending.size() + 1);
        for (ImageInput image : pending) {
            parts.add(ContentPart.image(image.numCrops().isPresent() ? image : image.withNumCrops(numCrops)));
        }
        parts.add(ContentPart.text(text));
        return ChatMessage.user(parts);
    }

    /** The whole conversation followed by {@code user}, with the current settings. */
    ChatRequest request(ChatMessage user) {
        return ChatRequest.builder().system(system).messages(turns).message(user).config(config).numCrops(numCrops)
                .literalText(literalText).build();
    }

    /** Records a finished question and its answer (only then: a failed call leaves the conversation unchanged). */
    void answered(ChatMessage user, Answer answer) {
        turns.add(user);
        turns.add(ChatMessage.assistant(answer.text()));
        pending.clear();
        visionEncodings += answer.usage().visionEncodings();
        lastReusedTokens = answer.usage().cachedPromptTokens();
        lastAnswer = answer;
    }

    void addUser(String text) {
        turns.add(userMessage(text));
        pending.clear();
    }

    void addAssistant(String text) {
        turns.add(ChatMessage.assistant(text));
    }

    void clear() {
        turns.clear();
        pending.clear();
        imageCount = 0;
        lastAnswer = null;
    }

    /** The messages as the chat template sees them: system (if any), then the turns with their image tags. */
    List<Message> history() {
        List<ChatMessage> all = new ArrayList<>(turns.size() + 1);
        if (system != null) {
            all.add(ChatMessage.system(system));
        }
        all.addAll(turns);
        return Collections.unmodifiableList(PromptPlanner.history(all, literalText));
    }

    int messageCount() {
        return turns.size();
    }
}
