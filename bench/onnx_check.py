"""Checks an exported ONNX file: onnx.checker, then ONNX Runtime on all 10,000 MNIST test
images, against `lenet-gpu eval --confusion --json` of the checkpoint it came from.

    .venv-bench/bin/pip install onnx onnxruntime
    lenet-gpu export --model runs/lenet5/model.safetensors --out model.onnx
    lenet-gpu eval --model runs/lenet5/model.safetensors --confusion --json > eval.json
    .venv-bench/bin/python bench/onnx_check.py model.onnx eval.json
"""
import gzip, json, pathlib, sys

import numpy as np
import onnx
import onnxruntime as ort

root = pathlib.Path(__file__).resolve().parent.parent
model_path, eval_path = sys.argv[1], sys.argv[2]
onnx.checker.check_model(onnx.load(model_path), full_check=True)
images = np.frombuffer(gzip.open(root / "assets/mnist/t10k-images-idx3-ubyte.gz").read()[16:], np.uint8)
labels = np.frombuffer(gzip.open(root / "assets/mnist/t10k-labels-idx1-ubyte.gz").read()[8:], np.uint8)
x = (images.reshape(-1, 1, 28, 28).astype(np.float32) / 255.0)
session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
output = session.get_outputs()[0].name
scores = np.concatenate([session.run([output], {"x": x[i:i + 1000]})[0] for i in range(0, len(x), 1000)])
# LeNet-5's logits: the largest; LeNet-1998's RBF distances: the nearest bitmap.
predicted = scores.argmin(1) if output == "distances" else scores.argmax(1)
confusion = np.zeros((10, 10), np.int64)
np.add.at(confusion, (labels, predicted), 1)
ours = json.load(open(eval_path))
meta = {p.key: p.value for p in onnx.load(model_path).metadata_props}
print(f"{model_path}: onnx.checker passed; opset {onnx.load(model_path).opset_import[0].version}; metadata {sorted(meta)}")
print(f"ONNX Runtime {ort.__version__}: {int((predicted == labels).sum())} of {len(labels)} correct "
      f"({(predicted == labels).mean():.4%}); lenet-gpu eval: {round(ours['accuracy'] * ours['samples'])} "
      f"({ours['accuracy']:.4%})")
same = (confusion == np.array(ours["confusion"])).all()
print("confusion matrices identical" if same else f"confusion matrices differ in {(confusion != np.array(ours['confusion'])).sum()} cells")
sys.exit(0 if same else 1)
