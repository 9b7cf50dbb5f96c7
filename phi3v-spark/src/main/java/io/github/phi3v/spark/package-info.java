/**
 * Apache Spark integration: {@link io.github.phi3v.spark.Phi3VisionTransformer} answers a prompt about the
 * image of every row of a DataFrame, with one model per executor JVM ({@link io.github.phi3v.spark.ExecutorModels},
 * described by a serializable {@link io.github.phi3v.spark.ModelSpec}) and the rows of a partition decoded
 * together; {@link io.github.phi3v.spark.ImageCaptionJob} is the example {@code spark-submit} job.
 */
package io.github.phi3v.spark;
