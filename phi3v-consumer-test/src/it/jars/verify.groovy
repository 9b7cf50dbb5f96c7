// Checks the jars of this build (this project itself builds nothing): every jar carries the licence,
// and the CLI's fat jar bundles the natives of one platform only.
import java.util.zip.ZipFile

def check = { boolean ok, String msg -> if (!ok) throw new AssertionError(msg) }

// 1. META-INF/LICENSE, equal to the repository's LICENSE, in every jar: this build's (main, sources,
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
['phi3v-tokenizer', 'phi3v-image', 'phi3v-core', 'phi3v-tooling', 'phi3v-examples', 'phi3v-cli', 'phi3v-server', 'phi3v-langchain4j', 'phi3v-spring-ai', 'phi3v-spark'].each { a ->
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

// 2. The CLI's fat jar bundles the natives of one platform only (CPU; CUDA with -Pgpu).
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

// 3. A stable module name in every main jar: a module descriptor (module-info.class, added by moditect)
//    in the library jars, an Automatic-Module-Name in the others.
Map<String, String> names = ['phi3v-tokenizer': 'io.github.phi3v.tokenizer', 'phi3v-image': 'io.github.phi3v.image',
        'phi3v-core': 'io.github.phi3v.core', 'phi3v-tooling': 'io.github.phi3v.tooling',
        'phi3v-examples': 'io.github.phi3v.examples', 'phi3v-cli': 'io.github.phi3v.cli',
        'phi3v-server': 'io.github.phi3v.server', 'phi3v-langchain4j': 'io.github.phi3v.langchain4j',
        'phi3v-spring-ai': 'io.github.phi3v.springai', 'phi3v-spark': 'io.github.phi3v.spark']
names.each { a, name ->
    jars.findAll { it.name == "${a}-${projectVersion}.jar".toString() }.each { jar ->
        new java.util.jar.JarFile(jar).withCloseable { z ->
            String declared = z.manifest?.mainAttributes?.getValue('Automatic-Module-Name')
            check(declared == name, "${jar}: Automatic-Module-Name ${declared}, expected ${name}")
            boolean library = a in ['phi3v-tokenizer', 'phi3v-image', 'phi3v-core']
            check((z.getEntry('module-info.class') != null) == library,
                    "${jar}: module-info.class expected " + (library ? 'present' : 'absent'))
        }
    }
}
println "module names checked"
return true
