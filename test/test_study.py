"""`musmove study` on the shipped models: the Table-2 rows, the figures and the regenerated part of results.md."""

import json
import subprocess
from pathlib import Path

import pytest
from test_recordings import uci

from musmove.evaluation.study import BEGIN, END, LABELS, update
from musmove.training import STUDY

MODELS = Path(__file__).resolve().parent.parent / 'models'


def test_update_replaces_only_the_generated_part():
    document = f'# Results\n\nwritten by hand\n\n{BEGIN}\nold table\n{END}\n\nmore by hand\n'
    updated = update(document, f'{BEGIN}\nnew table\n{END}')
    assert updated == f'# Results\n\nwritten by hand\n\n{BEGIN}\nnew table\n{END}\n\nmore by hand\n'
    assert update('# Results\n', 'tables') == '# Results\n\ntables\n'


@pytest.mark.timeout(600)
def test_study_of_the_shipped_models_on_one_test_track_per_data_set(tmp_path):
    uci('a1')  # the beat test splits live beside it in the shared data
    docs = tmp_path / 'docs'
    docs.mkdir()
    (docs / 'results.md').write_text(f'# Results\n\nby hand\n\n{BEGIN}\n{END}\n')
    command = ['musmove', 'study', '--models', str(MODELS), '--docs', str(docs), '--limit', '1']
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    document = (docs / 'results.md').read_text()
    assert document.startswith('# Results\n\nby hand\n\n' + BEGIN) and document.rstrip().endswith(END)
    for arch in STUDY:
        row = next(line for line in document.splitlines() if line.startswith(f'| {LABELS[arch]} |'))
        cells = [cell.strip() for cell in row.strip(' |').split(' | ')]
        assert '-' not in cells[1:5], row  # beat F, sync error, gesture accuracy and macro-F1 all measured
    results = json.loads((docs / 'results' / 'study.json').read_text())
    assert set(results['gesture']) == set(STUDY) and set(results['beat']) == {*STUDY, 'crnn'}
    for figures in results['gesture'].values():
        assert figures['latency_ms'] > 0 and len(figures['folds']) == 3
    assert (docs / 'results' / 'study.png').stat().st_size > 0
    assert (docs / 'results' / 'gesture_confusion.png').stat().st_size > 0
