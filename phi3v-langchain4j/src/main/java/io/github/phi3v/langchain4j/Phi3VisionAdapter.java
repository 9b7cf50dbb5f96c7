package io.github.phi3v.langchain4j;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;

import dev.langchain4j.model.chat.Capability;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.request.ChatRequestParameters;

import io.github.phi3v.core.Phi3Vision;

/**
 * What the blocking and the streaming adapter share: the model (given to the adapter or loaded and owned by
 * it), the name responses carry, how message text is encoded, the default request parameters and the
 * listeners, and the builder options that set them. Each adapter adds only how it answers.
 */
abstract class Phi3VisionAdapter implements AutoCloseable {

    final Phi3Vision phi;
    final boolean owned;
    final String modelName;
    final boolean literalText;
    private final ChatRequestParameters defaultParameters;
    private final List<ChatModelListener> listeners;

    Phi3VisionAdapter(AdapterBuilder<?> b) {
        this.defaultParameters = b.defaultParameters == null ? Phi3VisionChatRequestParameters.EMPTY
                : Phi3VisionChatRequestParameters.EMPTY.overrideWith(b.defaultParameters);
        this.listeners = List.copyOf(b.listeners);
        this.literalText = b.literalText;
        this.owned = b.source.owned();
        this.phi = b.source.open();
        this.modelName = b.source.modelName(phi);
    }

    /**
     * The parameters used where a request leaves a value unset.
     *
     * @return the builder's {@code defaultRequestParameters}, as {@link Phi3VisionChatRequestParameters}
     */
    public ChatRequestParameters defaultRequestParameters() {
        return defaultParameters;
    }

    /**
     * The listeners told about every request, response and error.
     *
     * @return the builder's listeners
     */
    public List<ChatModelListener> listeners() {
        return listeners;
    }

    /**
     * None: Phi-3-Vision has no constrained decoding, so AI services ask for JSON in the prompt.
     *
     * @return an empty set
     */
    public Set<Capability> supportedCapabilities() {
        return Set.of();
    }

    /**
     * The model this adapter answers with.
     *
     * @return the model
     */
    public Phi3Vision model() {
        return phi;
    }

    /**
     * Closes the model if this adapter loaded it ({@code modelIdOrPath}), which cancels its running
     * generations; a given model stays open.
     */
    @Override
    public void close() {
        if (owned) {
            phi.close();
        }
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "[" + modelName + (owned ? ", owned" : "") + "]";
    }

    /**
     * The builder options both adapters have; not thread-safe.
     *
     * @param <B> the adapter's own builder
     */
    abstract static class AdapterBuilder<B extends AdapterBuilder<B>> {
        final ModelSource source = new ModelSource();
        ChatRequestParameters defaultParameters;
        final List<ChatModelListener> listeners = new ArrayList<>();
        boolean literalText = true;

        AdapterBuilder() {
        }

        /** This builder, typed as the adapter's own. */
        abstract B self();

        /**
         * Answers with a loaded model, which the caller keeps and closes (it may be shared with other adapters).
         *
         * @param model the model
         * @return this builder
         */
        public B model(Phi3Vision model) {
            source.model(model);
            return self();
        }

        /**
         * Loads a model when {@code build()} runs and closes it with the adapter's {@code close()}.
         *
         * @param modelIdOrPath a model folder, or a hub id such as {@code microsoft/Phi-3-vision-128k-instruct}
         * @return this builder
         */
        public B modelIdOrPath(String modelIdOrPath) {
            source.modelIdOrPath(modelIdOrPath);
            return self();
        }

        /**
         * The dtype of a model loaded by {@link #modelIdOrPath}.
         *
         * @param dtype "float32", "bfloat16" or "float16"
         * @return this builder
         */
        public B dtype(String dtype) {
            source.dtype(dtype);
            return self();
        }

        /**
         * The maximum context of a model loaded by {@link #modelIdOrPath} (default
         * {@link Phi3Vision#DEFAULT_MAX_CONTEXT}).
         *
         * @param tokens prompt + image + generated tokens
         * @return this builder
         */
        public B maxContext(int tokens) {
            source.maxContext(tokens);
            return self();
        }

        /**
         * The default image crop budget of a model loaded by {@link #modelIdOrPath}.
         *
         * @param n at least 1
         * @return this builder
         */
        public B numCrops(int n) {
            source.numCrops(n);
            return self();
        }

        /**
         * Parameters used where a request leaves a value unset.
         *
         * @param parameters plain or {@link Phi3VisionChatRequestParameters}
         * @return this builder
         */
        public B defaultRequestParameters(ChatRequestParameters parameters) {
            this.defaultParameters = Objects.requireNonNull(parameters, "parameters");
            return self();
        }

        /**
         * Listeners told about every request, response and error.
         *
         * @param list the listeners
         * @return this builder
         */
        public B listeners(List<ChatModelListener> list) {
            this.listeners.clear();
            this.listeners.addAll(Objects.requireNonNull(list, "listeners"));
            return self();
        }

        /**
         * Whether message text is encoded literally, so that special tokens and {@code <|image_N|>} tags typed
         * in it stay text (default true: text from users cannot inject turns or refer to images; images come
         * only from {@code ImageContent}). False gives Hugging Face's behaviour (see
         * {@link io.github.phi3v.core.ChatRequest.Builder#literalText(boolean)}).
         *
         * @param literal whether to encode text literally
         * @return this builder
         */
        public B literalText(boolean literal) {
            this.literalText = literal;
            return self();
        }
    }
}
