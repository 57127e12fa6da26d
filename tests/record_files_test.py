"""keras_gen.data.record_files: counting TFRecord framing, and TensorFlow's read errors in words."""

import os

import pytest
import tensorflow as tf

from keras_gen.data import record_files

EAGER_ERROR = ("{{function_node __wrapped__IteratorGetNext_output_types_2_device_/job:localhost/"
               "replica:0/task:0/device:CPU:0}} truncated record at 59413' failed with Read less "
               "bytes than requested [Op:IteratorGetNext] name: ")
GRAPH_ERROR = ("Graph execution error:\n\nDetected at node IteratorGetNext defined at (most recent "
               "call last):\n  File \"train.py\", line 16, in <module>\n\n  File \"loop.py\", "
               "line 14, in step\n\ncorrupted record at 2586\n\t [[{{node IteratorGetNext}}]] "
               "[Op:__inference_step_267]")


def _write_records(path, payloads):
  with tf.io.TFRecordWriter(str(path)) as writer:
    for payload in payloads:
      writer.write(payload)
  return str(path)


def test_count_records_reads_whole_records_and_the_bytes_of_a_cut_off_one(tmp_path):
  # Each record is its data and 16 bytes of framing.
  path = _write_records(tmp_path / "r.tfrecords", [b"a" * 10, b"b" * 20, b"c" * 30])
  assert os.path.getsize(path) == 60 + 3 * 16
  assert record_files.count_records(path) == (3, 0)
  os.truncate(path, 26 + 36 + 20)
  assert record_files.count_records(path) == (2, 20)
  os.truncate(path, 26 + 5)  # Not even a whole length field.
  assert record_files.count_records(path) == (1, 5)


@pytest.mark.parametrize("message,reason", [
    (EAGER_ERROR, "a record is cut short (truncated record at 59413)"),
    (GRAPH_ERROR, "a record does not match its checksum (corrupted record at 2586)"),
    ("Graph execution error:\n\nsomething else\n", "Graph execution error"),
])
def test_tensorflow_reason_keeps_the_line_about_the_record_without_function_or_op_names(
    message, reason):
  assert record_files.tensorflow_reason(tf.errors.DataLossError(None, None, message)) == reason
