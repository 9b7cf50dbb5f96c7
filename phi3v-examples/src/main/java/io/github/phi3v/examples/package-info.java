/** The runnable seed examples: describe a chart, OCR a book cover, compare two images. */
package io.github.phi3v.examples;
