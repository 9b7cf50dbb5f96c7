package io.github.phi3v.langchain4j;

import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.output.FinishReason;

import io.github.phi3v.core.generate.Answer;

/** Translates the core's {@link Answer} into a LangChain4j {@link ChatResponse}. Stateless. */
final class ResponseMapper {

    private ResponseMapper() {
    }

    static ChatResponse toChatResponse(Answer answer, String modelName) {
        return ChatResponse.builder()
                .aiMessage(AiMessage.from(answer.text()))
                .modelName(modelName)
                .tokenUsage(new Phi3VisionTokenUsage(answer.usage()))
                .finishReason(finishReason(answer.finishReason()))
                .build();
    }

    static FinishReason finishReason(io.github.phi3v.core.generate.FinishReason reason) {
        return switch (reason) {
            case STOP -> FinishReason.STOP;
            case LENGTH -> FinishReason.LENGTH;
            case CANCELLED -> FinishReason.OTHER;
        };
    }
}
