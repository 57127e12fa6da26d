"""Trains the domain classifier for FCD:

  python -m keras_gen.metrics.train_classifier --dataset=fashion_mnist

writes ~/.keras_gen/classifiers/fashion_mnist.weights.h5 and .json, where `keras_gen.evaluate`
looks when the zoo ships no classifier for the dataset."""

from absl import flags

from keras_gen import cli

flags.DEFINE_string("dataset", "fashion_mnist", "A labelled image dataset.")
flags.DEFINE_string("data_dir", "", "Where dataset files are (default: the usual places).")
flags.DEFINE_string("output", "",
                    "Weights path (default: ~/.keras_gen/classifiers/DATASET.weights.h5).")
flags.DEFINE_integer("epochs", 3, "Passes over the train split.")
flags.DEFINE_integer("batch_size", 128, "Minibatch size.")
flags.DEFINE_integer("seed", 0, "Seed for initialization and shuffling.")
FLAGS = flags.FLAGS


def main(argv):
  cli.start(argv)
  if FLAGS.output and not FLAGS.output.endswith(".weights.h5"):
    cli.usage_error(f"--output={FLAGS.output} must end in .weights.h5.")
  cli.quiet_tensorflow()
  from keras_gen.metrics import classifier
  metadata = cli.exit_on_user_error(
      lambda: classifier.train(FLAGS.dataset, FLAGS.output, FLAGS.data_dir or None,
                               epochs=FLAGS.epochs, batch_size=FLAGS.batch_size, seed=FLAGS.seed))
  path = FLAGS.output or classifier.default_path(metadata["dataset"])
  print(f"Test accuracy {metadata['test_accuracy']:.4f} on {metadata['num_test_examples']} "
        f"examples after {metadata['wall_seconds']:.0f} s; wrote {path} and "
        f"{classifier.metadata_path(path)}")


if __name__ == "__main__":
  cli.run(main)
