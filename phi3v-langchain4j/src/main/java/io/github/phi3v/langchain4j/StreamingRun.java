package io.github.phi3v.langchain4j;

import java.util.concurrent.atomic.AtomicBoolean;

import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.PartialResponse;
import dev.langchain4j.model.chat.response.PartialResponseContext;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.chat.response.StreamingHandle;

import io.github.phi3v.core.ChatRequest;
import io.github.phi3v.core.Phi3Vision;
import io.github.phi3v.core.generate.Answer;
import io.github.phi3v.core.generate.CancellationToken;
import io.github.phi3v.image.ImageProcessingException;

/**
 * One streamed answer: runs the generation (on the executor's thread), hands each text piece to the handler and
 * ends with exactly one of {@code onCompleteResponse} or {@code onError}, or with nothing after
 * {@link StreamingHandle#cancel()}, as LangChain4j specifies: a cancelled stream gets no further callbacks, and
 * its generation stops within one token.
 */
final class StreamingRun implements Runnable, StreamingHandle {

    private final Phi3Vision phi;
    private final ChatRequest request;
    private final String modelName;
    private final StreamingChatResponseHandler handler;
    private final CancellationToken cancel = new CancellationToken();
    private final AtomicBoolean cancelled = new AtomicBoolean();
    private final PartialResponseContext context = new PartialResponseContext(this);
    private volatile Throwable handlerFailure;
    private volatile Answer answer;

    StreamingRun(Phi3Vision phi, ChatRequest request, String modelName, StreamingChatResponseHandler handler) {
        this.phi = phi;
        this.request = request;
        this.modelName = modelName;
        this.handler = handler;
    }

    @Override
    public void run() {
        try {
            answer = phi.chatStream(request, this::deliver, cancel);
        } catch (IllegalArgumentException | ImageProcessingException e) {
            fail(Phi3VisionChatModel.invalidRequest(e));
            return;
        } catch (RuntimeException | Error e) {
            fail(e);
            return;
        }
        if (handlerFailure != null) {
            fail(handlerFailure);
        } else if (!cancelled.get()) {
            handler.onCompleteResponse(ResponseMapper.toChatResponse(answer, modelName));
        }
    }

    private void deliver(String piece) {
        if (piece.isEmpty() || cancelled.get() || handlerFailure != null) {
            return;
        }
        try {
            handler.onPartialResponse(new PartialResponse(piece), context);
        } catch (RuntimeException e) {
            // A handler that throws cannot take the rest of the answer: stop generating, report it once.
            handlerFailure = e;
            cancel.cancel();
        }
    }

    /** Reports {@code error} unless the stream was cancelled (then the handler hears nothing more). */
    void fail(Throwable error) {
        if (!cancelled.get()) {
            handler.onError(error);
        }
    }

    /** The core's answer once {@link #run()} returned, CANCELLED ones included; null before or after a failure. */
    Answer answer() {
        return answer;
    }

    @Override
    public void cancel() {
        cancelled.set(true);
        cancel.cancel();
    }

    @Override
    public boolean isCancelled() {
        return cancelled.get();
    }
}
