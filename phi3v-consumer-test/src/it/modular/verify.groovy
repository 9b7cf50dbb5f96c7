// Runs after the modular consumer built and ran on the module path. The answer must be the classpath
// consumer's (same model, prompt and greedy float32 decoding), and the classes must have come from
// named modules, with the internal runtime package not exported to the application.

def check = { boolean ok, String msg -> if (!ok) throw new AssertionError(msg) }

List<String> out = new File(basedir, 'target/answer.txt').readLines('UTF-8')
println "modular consumer printed: " + out
check(out.contains('app module: example.modular'), "the application did not run as module example.modular: ${out}")
check(out.contains('core module: io.github.phi3v.core'), "phi3v-core was not loaded as module io.github.phi3v.core: ${out}")
check(out.contains('runtime exported: false'), "io.github.phi3v.core.runtime must not be exported to applications: ${out}")
check(out.contains('model exported: true'), "io.github.phi3v.core.model must be exported: ${out}")
check(out.contains('ids: ' + expectedIds), "modular consumer answer ids: expected 'ids: ${expectedIds}' in ${out}")
check(out.contains('finish: LENGTH'), "modular consumer finish reason: expected LENGTH in ${out}")
check(out.contains('answer: ' + expectedText), "modular consumer answer text: expected 'answer: ${expectedText}' in ${out}")
return true
