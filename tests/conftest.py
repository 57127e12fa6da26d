"""Test session set-up: one TensorFlow import, the CPU split into logical devices.

MirroredStrategy tests need several devices, and TensorFlow only accepts a
logical-device split before it initializes, so it happens here, once, before any
test module imports TensorFlow.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tensorflow as tf  # noqa: E402

TEST_CPU_REPLICAS = 2

_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    _cpu, [tf.config.LogicalDeviceConfiguration()] * TEST_CPU_REPLICAS)
