/** Runnable example programs and the {@code phi3v} command-line tool. */
package io.github.phi3v.examples;
