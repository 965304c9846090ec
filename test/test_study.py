"""`musmove study` on the shipped models: the Table-2 rows, the figures and the regenerated part of results.md."""

import json
import subprocess
from pathlib import Path

import pytest
from test_recordings import uci

from musmove.evaluation.study import BEGIN, END, LABELS, ROWS, update
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
    assert set(results['gesture']) == set(STUDY) and set(results['beat']) == set(ROWS)
    for figures in results['gesture'].values():
        assert figures['latency_ms'] > 0 and len(figures['folds']) == 3
    assert (docs / 'results' / 'study.png').stat().st_size > 0
    assert (docs / 'results' / 'gesture_confusion.png').stat().st_size > 0


@pytest.mark.timeout(600)
def test_the_multimodal_rows_are_the_partner_ablation_run_with_each_model(tmp_path):
    """The study's dance rows for beat_crnn on one held-out dancer equal `musmove partner-beats`' own
    ablation of that dancer (the same late fusion, reached by two paths), and render into the document."""
    from musmove.evaluation.dance_offsets import read_offsets
    from musmove.evaluation.partner import score, trusted_runs
    from musmove.evaluation.study import dance_figures, dance_section
    from musmove.sources.dance import dance_root

    try:
        dance_root()
    except FileNotFoundError as error:
        pytest.skip(f'needs the dance-melody data set: {error}')
    pytest.importorskip('madmom', reason='the reference beats need madmom (tools/bootstrap.sh --evaluation)')
    offsets = {'DANCE_W_33': read_offsets(MODELS.parent / 'docs' / 'dance' / 'offsets.csv')['DANCE_W_33']}
    models = tmp_path / 'models'
    models.mkdir()
    for name in ('beat_crnn.onnx', 'beat_crnn.json'):
        (models / name).symlink_to(MODELS / name)
    dance = dance_figures(models, offsets)
    assert set(dance['models']) == {'crnn'} and dance['splits'] == {'DANCE_W_33': 'test'}
    (run,), event_phase = trusted_runs(offsets, progress=False)
    expected = score(run, event_phase, str(models / 'beat_crnn.onnx'))
    got = dance['models']['crnn']['sequences']['DANCE_W_33']
    for condition in ('audio', 'both', 'audio_masked', 'both_masked'):
        assert got[condition]['f_measure'] == pytest.approx(getattr(expected, f'{condition}_f'))
        assert got[condition]['coverage'] == pytest.approx(getattr(expected, f'{condition}_coverage'))
    assert dance['movement']['DANCE_W_33']['f_measure'] == pytest.approx(expected.f_measure)
    text = '\n'.join(dance_section(json.loads(json.dumps(dance))))  # as kept in dance.json
    row = next(line for line in text.splitlines() if line.startswith(f'| {LABELS["crnn"]} |'))
    assert f'{100 * expected.both_f:.1f}' in row and 'Held out (test split: DANCE_W_33)' in text
