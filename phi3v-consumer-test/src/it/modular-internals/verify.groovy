// The build failed, as invoker.properties requires; check it failed because the module system hid
// io.github.phi3v.core.runtime (and not, say, because phi3v-core did not resolve).
def check = { boolean ok, String msg -> if (!ok) throw new AssertionError(msg) }
String log = new File(basedir, 'build.log').getText('UTF-8')
check(log.contains('package io.github.phi3v.core.runtime is not visible'),
        'modular-internals: expected "package io.github.phi3v.core.runtime is not visible" in build.log')
check(log.contains('which does not export it to module example.internals'),
        'modular-internals: expected the compiler to name the non-exported package in build.log')
return true
