/**
 * Test-only helpers shared by every module's conformance tests: {@link io.github.phi3v.testsupport.SharedData}
 * finds {@code ../shared}, {@link io.github.phi3v.testsupport.GoldenTensors} and
 * {@link io.github.phi3v.testsupport.Jsonl} read the golden files.
 */
package io.github.phi3v.testsupport;
