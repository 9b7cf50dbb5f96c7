/** Reaches into phi3v-core's internals: must not compile. */
module example.internals {
    requires io.github.phi3v.core;
}
