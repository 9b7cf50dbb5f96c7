/**
 * LangChain4j adapters for Phi-3-Vision: {@link io.github.phi3v.langchain4j.Phi3VisionChatModel} and
 * {@link io.github.phi3v.langchain4j.Phi3VisionStreamingChatModel}, thin translations of LangChain4j's chat
 * requests onto the core's stateless {@link io.github.phi3v.core.Phi3Vision#chat} API.
 */
package io.github.phi3v.langchain4j;
