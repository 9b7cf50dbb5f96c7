/** Phi-3-V tokenizer (pure Java). */
package io.github.phi3v.tokenizer;
