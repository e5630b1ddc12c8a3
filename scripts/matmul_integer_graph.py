"""Write ser/features/matmul_integer.onnx: one ONNX MatMulInteger node, (A - 128) @ (B - 0) in int32, with A
(uint8, n x k) and B (int8, k x m) both inputs, so that one session serves every weight matrix.

Needs the ``onnx`` package (a development dependency); the product reads the file with onnxruntime alone.
tests/test_int8_linear.py checks that the committed file is what this script writes.

    python scripts/matmul_integer_graph.py [OUTPUT]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper

DEFAULT_OUTPUT = Path(__file__).resolve().parents[1] / "ser" / "features" / "matmul_integer.onnx"


def graph_bytes() -> bytes:
    """The serialised model (opset 13, IR version pinned so that the bytes do not follow the onnx release)."""
    inputs = [
        helper.make_tensor_value_info("A", TensorProto.UINT8, [None, None]),
        helper.make_tensor_value_info("B", TensorProto.INT8, [None, None]),
    ]
    output = helper.make_tensor_value_info("Y", TensorProto.INT32, [None, None])
    zero_points = [
        numpy_helper.from_array(np.array(128, dtype=np.uint8), "a_zero_point"),
        numpy_helper.from_array(np.array(0, dtype=np.int8), "b_zero_point"),
    ]
    node = helper.make_node("MatMulInteger", ["A", "B", "a_zero_point", "b_zero_point"], ["Y"])
    graph = helper.make_graph([node], "matmul_integer", inputs, [output], zero_points)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=7)
    model.producer_name = "ser scripts/matmul_integer_graph.py"
    return model.SerializeToString()


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUTPUT
    target.write_bytes(graph_bytes())
    print(f"wrote {target}")
