// Runs after the consumer built and ran (the invoker fails the build if either did not). Checks what
// the application printed and resolved.

def check = { boolean ok, String msg -> if (!ok) throw new AssertionError(msg) }

// 1. The answer. Greedy float32 generation of the tiny random-weight model, so the ids are fixed; the
//    text is what the real Phi-3 tokenizer makes of them. A change here means the published
//    phi3v-core computes something else than the reactor's tested one (or the prompt changed).
List<String> out = new File(basedir, 'target/answer.txt').readLines('UTF-8')
println "consumer printed: " + out
check(out.contains('ids: ' + expectedIds), "consumer answer ids: expected 'ids: ${expectedIds}' in ${out}")
check(out.contains('finish: LENGTH'), "consumer finish reason: expected LENGTH in ${out}")
check(out.contains('answer: ' + expectedText), "consumer answer text: expected 'answer: ${expectedText}' in ${out}")

// 2. What the consumer resolved: the BOM's JavaCPP versions are the ones phi3v-core was built and
//    tested with, and the only natives are the three the consumer asked for.
List<String> deps = new File(basedir, 'target/dependencies.txt').readLines('UTF-8')
        .collect { it.trim().replaceAll(/ -- .*/, '') }.findAll { it.startsWith('org.bytedeco:') }
List<String> wanted = [
        "org.bytedeco:javacpp:jar:${javacppVersion}:compile",
        "org.bytedeco:javacpp:jar:linux-x86_64:${javacppVersion}:compile",
        "org.bytedeco:openblas:jar:${openblasVersion}:compile",
        "org.bytedeco:openblas:jar:linux-x86_64:${openblasVersion}:compile",
        "org.bytedeco:pytorch:jar:${pytorchVersion}:compile",
        "org.bytedeco:pytorch:jar:linux-x86_64:${pytorchVersion}:compile"].collect { it.toString() }
check(deps.sort() == wanted.sort(), "consumer's org.bytedeco dependencies: expected ${wanted}, got ${deps}"
        + " (phi3v-bom/pom.xml versions must equal the parent's)")
return true
