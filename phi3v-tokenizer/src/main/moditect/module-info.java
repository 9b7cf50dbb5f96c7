/**
 * The Phi-3 (Llama SentencePiece BPE) tokenizer in pure Java: {@link io.github.phi3v.tokenizer}.
 */
module io.github.phi3v.tokenizer {
    requires com.fasterxml.jackson.databind;

    exports io.github.phi3v.tokenizer;
}
