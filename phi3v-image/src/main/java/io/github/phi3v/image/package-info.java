/** Phi-3-V image (pure Java). */
package io.github.phi3v.image;
