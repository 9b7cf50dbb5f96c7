package io.github.phi3v.springai;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.NestedConfigurationProperty;

/**
 * Spring Boot properties under {@code phi3v}: which model to load and how, and the chat defaults.
 *
 * <pre>
 * phi3v.model=microsoft/Phi-3-vision-128k-instruct   # a hub id or a model folder (required)
 * phi3v.max-context=4096
 * phi3v.dtype=bfloat16
 * phi3v.quantization=int8
 * phi3v.num-crops=4
 * phi3v.threads=2
 * phi3v.options.max-tokens=300
 * phi3v.options.temperature=0
 * </pre>
 *
 * <p>Unset values keep the core's defaults ({@link io.github.phi3v.core.Phi3VisionBuilder}).
 */
@ConfigurationProperties(prefix = "phi3v")
public class Phi3VisionProperties {

    private String model;
    private Integer maxContext;
    private String dtype;
    private String quantization;
    private String device;
    private Integer numCrops;
    private Integer threads;
    private Integer maxConcurrentRequests;
    private boolean literalText = true;
    private boolean warmUp;
    @NestedConfigurationProperty
    private Phi3VisionChatOptions options = new Phi3VisionChatOptions();

    /** Properties with nothing set. */
    public Phi3VisionProperties() {
    }

    /**
     * The model to load.
     *
     * @return a hub id such as {@code microsoft/Phi-3-vision-128k-instruct} or a model folder
     */
    public String getModel() {
        return model;
    }

    /**
     * Sets the model to load.
     *
     * @param model a hub id or a model folder
     */
    public void setModel(String model) {
        this.model = model;
    }

    /**
     * The maximum context in tokens.
     *
     * @return prompt + image + generated tokens, or null for the core's default (8192)
     */
    public Integer getMaxContext() {
        return maxContext;
    }

    /**
     * Sets the maximum context.
     *
     * @param maxContext tokens
     */
    public void setMaxContext(Integer maxContext) {
        this.maxContext = maxContext;
    }

    /**
     * The dtype weights are converted to.
     *
     * @return "float32", "bfloat16" or "float16", or null for the CPU default
     */
    public String getDtype() {
        return dtype;
    }

    /**
     * Sets the dtype.
     *
     * @param dtype "float32", "bfloat16" or "float16"
     */
    public void setDtype(String dtype) {
        this.dtype = dtype;
    }

    /**
     * The weight quantization.
     *
     * @return "none" or "int8", or null for none
     */
    public String getQuantization() {
        return quantization;
    }

    /**
     * Sets the weight quantization.
     *
     * @param quantization "none" or "int8"
     */
    public void setQuantization(String quantization) {
        this.quantization = quantization;
    }

    /**
     * The device.
     *
     * @return "cpu" or "cuda", or null for the CPU
     */
    public String getDevice() {
        return device;
    }

    /**
     * Sets the device.
     *
     * @param device "cpu" or "cuda"
     */
    public void setDevice(String device) {
        this.device = device;
    }

    /**
     * The default image crop budget.
     *
     * @return crops, or null for the model's {@code preprocessor_config.json}
     */
    public Integer getNumCrops() {
        return numCrops;
    }

    /**
     * Sets the default image crop budget.
     *
     * @param numCrops at least 1
     */
    public void setNumCrops(Integer numCrops) {
        this.numCrops = numCrops;
    }

    /**
     * libtorch's intra-op threads.
     *
     * @return threads, or null for one per core
     */
    public Integer getThreads() {
        return threads;
    }

    /**
     * Sets libtorch's intra-op threads.
     *
     * @param threads at least 0 (0 = one per core)
     */
    public void setThreads(Integer threads) {
        this.threads = threads;
    }

    /**
     * The most requests running at once.
     *
     * @return the limit, or null for the core's default
     */
    public Integer getMaxConcurrentRequests() {
        return maxConcurrentRequests;
    }

    /**
     * Sets the most requests running at once.
     *
     * @param maxConcurrentRequests at least 1
     */
    public void setMaxConcurrentRequests(Integer maxConcurrentRequests) {
        this.maxConcurrentRequests = maxConcurrentRequests;
    }

    /**
     * Whether message text is encoded literally (special tokens and image tags typed in it stay text).
     *
     * @return true by default
     */
    public boolean isLiteralText() {
        return literalText;
    }

    /**
     * Sets whether message text is encoded literally.
     *
     * @param literalText false for Hugging Face's behaviour
     */
    public void setLiteralText(boolean literalText) {
        this.literalText = literalText;
    }

    /**
     * Whether loading ends with one short text request, so that the first chat's prompt is not slower than the
     * later ones' (Phi3VisionBuilder#warmUp; adds 1-3 s to a full-size model's load).
     *
     * @return false by default
     */
    public boolean isWarmUp() {
        return warmUp;
    }

    /**
     * Sets whether loading ends with a warm-up request.
     *
     * @param warmUp true to warm up at load
     */
    public void setWarmUp(boolean warmUp) {
        this.warmUp = warmUp;
    }

    /**
     * The chat model's default options ({@code phi3v.options.*}).
     *
     * @return the options bean
     */
    public Phi3VisionChatOptions getOptions() {
        return options;
    }

    /**
     * Sets the default options.
     *
     * @param options the options
     */
    public void setOptions(Phi3VisionChatOptions options) {
        this.options = options;
    }
}
