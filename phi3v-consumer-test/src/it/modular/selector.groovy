// Runs the consumer only when the tiny golden model is there; with -Dphi3v.requireSharedData=true
// (.ci/run) a missing model is an error instead of a skip, as for the other tests.
File model = new File(sharedDir, 'golden/tiny-a/model-f32/config.json')
if (model.isFile()) {
    return true
}
String msg = "consumer test: ${model} not found; set -Dphi3v.sharedDir=/path/to/shared or place it next to the repository"
if (Boolean.parseBoolean(requireSharedData)) {
    throw new IllegalStateException(msg + " (required: phi3v.requireSharedData=true)")
}
println "SKIPPED " + msg
return false
