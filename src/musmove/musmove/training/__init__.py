"""Training, export and cards of the musmove models.

Needs the training extra (`pip install -r requirements/training.txt`: torch==2.13.0, CPU); nothing
at run time imports this package: the nodes run the exported ONNX files with onnxruntime
(`musmove.models`).
"""

STUDY = ('cnn', 'rnn', 'lstm', 'cnn_lstm', 'transformer')  # the seed paper's five architectures, in its order
ARCHITECTURE_NAMES = (*STUDY, 'crnn', 'crnn2')  # the CRNN of the shipped beat model; crnn2: a two-layer GRU of 96
TASKS = ('beat', 'gesture')
