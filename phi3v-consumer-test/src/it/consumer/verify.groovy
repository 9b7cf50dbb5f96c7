// Runs after the consumer built and ran (the invoker fails the build if either did not). Checks what
// the application printed and resolved, and every jar of this build (see phi3v-consumer-test/pom.xml).
import java.util.zip.ZipFile

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

// 3. META-INF/LICENSE, equal to the repository's LICENSE, in every jar: this build's (main, sources,
//    javadoc, the CLI's fat jar) and the ones installed for the consumer.
byte[] license = new File(repoRoot, 'LICENSE').bytes
List<File> jars = []
new File(repoRoot).eachDirMatch(~/phi3v-.*/) { m ->
    File target = new File(m, 'target')
    if (target.isDirectory()) {
        target.eachFileMatch(~/.*\.jar/) { jars << it }
    }
}
new File(localRepositoryPath, 'io/github/phi3v').eachFileRecurse { if (it.name.endsWith('.jar')) jars << it }
['phi3v-tokenizer', 'phi3v-image', 'phi3v-core', 'phi3v-examples'].each { a ->
    check(jars.any { it.name == "${a}-${projectVersion}.jar".toString() }, "no ${a}-${projectVersion}.jar in ${jars}")
    check(jars.any { it.name == "${a}-${projectVersion}-sources.jar".toString() }, "no ${a} sources jar in ${jars}")
}
jars.each { jar ->
    new ZipFile(jar).withCloseable { z ->
        def e = z.getEntry('META-INF/LICENSE')
        check(e != null, "${jar} has no META-INF/LICENSE")
        check(Arrays.equals(z.getInputStream(e).bytes, license), "${jar}: META-INF/LICENSE differs from LICENSE")
    }
}
println "META-INF/LICENSE checked in ${jars.size()} jars"

// 4. The CLI's fat jar bundles the natives of one platform only (CPU; CUDA with -Pgpu).
List<File> fat = jars.findAll { it.name == 'phi3v.jar' }
check(fat.size() == 1, "expected one fat jar phi3v.jar, found ${fat}")
Set<String> platforms = [] as Set
int libs = 0
new ZipFile(fat[0]).withCloseable { z ->
    z.entries().each { e ->
        def m = e.name =~ /^org\/bytedeco\/[^\/]+\/([^\/]+)\/[^\/]+\.(so(\.[0-9.]+)?|dylib|dll)$/
        if (m.matches()) { platforms << m.group(1); libs++ }
    }
}
Set<String> allowed = [nativeClassifier, pytorchClassifier].collect { it.toString() } as Set
check(libs > 0 && allowed.containsAll(platforms), "${fat[0]}: native libraries for ${platforms}, expected only ${allowed}")
println "${fat[0]}: ${libs} native libraries, platforms ${platforms}"
return true
