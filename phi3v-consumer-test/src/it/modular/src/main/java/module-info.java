/** A modular application on phi3v-java: it needs only phi3v-core's exported API. */
module example.modular {
    requires io.github.phi3v.core;
}
