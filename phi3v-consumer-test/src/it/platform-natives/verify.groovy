// pytorch-platform with -Djavacpp.platform=linux-x86_64: the natives of that platform only, at the
// versions of the BOM (= the ones phi3v-core is built and tested with).
def check = { boolean ok, String msg -> if (!ok) throw new AssertionError(msg) }

List<String> deps = new File(basedir, 'target/dependencies.txt').readLines('UTF-8')
        .collect { it.trim().replaceAll(/ -- .*/, '') }.findAll { it.startsWith('org.bytedeco:') }
println "resolved: " + deps
List<String> natives = deps.findAll { it.split(':').length == 6 }
List<String> wanted = [
        "org.bytedeco:javacpp:jar:linux-x86_64:${javacppVersion}:compile",
        "org.bytedeco:openblas:jar:linux-x86_64:${openblasVersion}:compile",
        "org.bytedeco:pytorch:jar:linux-x86_64:${pytorchVersion}:compile"].collect { it.toString() }
check(natives.sort() == wanted.sort(), "natives with pytorch-platform and javacpp.platform=linux-x86_64: expected ${wanted}, got ${natives}")
check(deps.contains("org.bytedeco:pytorch-platform:jar:${pytorchVersion}:compile".toString()), "pytorch-platform ${pytorchVersion} not resolved: ${deps}")
return true
