//! Keras' validation split: the last share of the training set is held out before any
//! shuffling, never trained on, validated every epoch; `--keep best` keeps the model of
//! the epoch with the lowest validation loss, chosen without the test set.

mod common;

use common::*;
use lenet_gpu::checkpoint::load_model;
use lenet_gpu::data::{Dataset, Split};
use lenet_gpu::eval::Evaluator;
use lenet_gpu::kernels::Kernels;
use lenet_gpu::model::{Arch, Ctx, ParamLayout};
use lenet_gpu::report::{read_csv, EpochReport};
use lenet_gpu::run::{kept_epoch, run_training, RunOptions, METRICS_FILE, MODEL_FILE};
use lenet_gpu::train::{Keep, Recipe, Schedule};
use pollster::FutureExt;

fn bits_equal(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

fn report(epoch: u32, val_loss: Option<f32>) -> EpochReport {
    EpochReport {
        epoch,
        seconds: 1.0,
        lr: 0.1,
        train_loss: 1.0,
        train_accuracy: 0.5,
        val_loss,
        val_accuracy: val_loss.map(|_| 0.5),
        test_loss: 1.0 / epoch as f32,
        test_accuracy: 0.5,
    }
}

#[test]
fn the_split_is_keras_own() {
    let train = Dataset::bundled(Split::Train).unwrap();
    // Keras: split_at = int(60000 * (1 - 0.1)) = 54000; the held-out rows are the last.
    let (kept, held) = train.split_validation(0.1).unwrap();
    let held = held.expect("a validation set");
    assert_eq!((kept.len(), held.len()), (54_000, 6_000));
    assert_eq!(kept.image(0), train.image(0));
    assert_eq!(held.image(0), train.image(54_000));
    assert_eq!(held.labels[..], train.labels[54_000..]);
    let (thousand, ten, one) = (train.take(1000), train.take(10), train.take(1));
    let (kept, held) = thousand.split_validation(0.25).unwrap();
    assert_eq!((kept.len(), held.unwrap().len()), (750, 250));
    let (all, none) = ten.split_validation(0.0).unwrap();
    assert_eq!((all.len(), none.is_none()), (10, true));
    let e = one.split_validation(0.5).unwrap_err().to_string();
    assert!(e.contains("--validation-split") && e.contains("validate"), "{e}");
}

#[test]
fn the_kept_epoch_is_the_first_with_the_lowest_validation_loss() {
    let history = [report(1, Some(0.5)), report(2, Some(0.3)), report(3, Some(0.3)), report(4, Some(0.4))];
    assert_eq!(kept_epoch(Keep::Best, &history).unwrap().epoch, 2, "a tie does not replace it, as in Keras");
    assert_eq!(kept_epoch(Keep::Last, &history).unwrap().epoch, 4);
    let diverged = [report(1, Some(f32::NAN)), report(2, Some(0.9)), report(3, Some(f32::NAN))];
    assert_eq!(kept_epoch(Keep::Best, &diverged).unwrap().epoch, 2, "NaN is never best");
    // The test loss (falling every epoch here) plays no part.
    assert_eq!(kept_epoch(Keep::Best, &[report(1, Some(0.1)), report(2, Some(0.2))]).unwrap().epoch, 1);
}

#[test]
fn held_out_rows_never_enter_training_and_keep_best_keeps_that_epoch() {
    let all = Dataset::bundled(Split::Train).unwrap().take(1000);
    let test = Dataset::bundled(Split::Test).unwrap().take(200);
    // A constant rate, so the first k epochs of a longer run are a k-epoch run; one high
    // enough that validation loss turns up (on lavapipe, epoch 4 of 6 is the best).
    let recipe = Recipe {
        epochs: 6,
        batch_size: 50,
        lr: 5e-3,
        seed: 0,
        schedule: Schedule::Constant,
        validation_split: 0.3,
        keep: Keep::Best,
        ..Recipe::default_recipe()
    };
    let validated = tempfile::tempdir().unwrap();
    let opts = RunOptions { out: validated.path().to_path_buf(), resume: false, init: None };
    let history = run_training(gpu(), recipe.clone(), &all, &test, &opts, &mut |_| {}).block_on().unwrap();
    assert!(history.iter().all(|r| r.val_loss.is_some() && r.val_accuracy.is_some()), "{history:?}");
    let untimed = |h: &[EpochReport]| h.iter().map(|r| EpochReport { seconds: 0.0, ..*r }).collect::<Vec<_>>();
    let csv = read_csv(&validated.path().join(METRICS_FILE)).unwrap();
    assert_eq!(untimed(&csv), untimed(&history), "metrics.csv holds the val_ columns");

    // The same recipe with no split, on only the first 700 images, trains the same weights:
    // the 300 held-out rows never entered training (nor changed the batches or the draws).
    let (first, held) = all.split_validation(0.3).unwrap();
    let kept = kept_epoch(Keep::Best, &history).unwrap();
    eprintln!("kept epoch {} of {}", kept.epoch, history.len());
    let plain = tempfile::tempdir().unwrap();
    let opts = RunOptions { out: plain.path().to_path_buf(), resume: false, init: None };
    let unsplit = Recipe { validation_split: 0.0, keep: Keep::Last, epochs: kept.epoch, ..recipe };
    run_training(gpu(), unsplit, &first, &test, &opts, &mut |_| {}).block_on().unwrap();
    let (a, meta) = load_model(&validated.path().join(MODEL_FILE), Arch::Lenet5).unwrap();
    let (b, _) = load_model(&plain.path().join(MODEL_FILE), Arch::Lenet5).unwrap();
    assert!(bits_equal(&a, &b), "the kept model is epoch {}'s, trained without the held-out rows", kept.epoch);
    assert_eq!(meta["epoch"], kept.epoch.to_string());

    // Its validation loss is the kept epoch's, measured on the held-out rows.
    let layout = ParamLayout::lenet5();
    let k = Kernels::new(gpu()).unwrap();
    let params = gpu().storage_from("params", &a);
    let ctx = Ctx::new(gpu(), &k, &layout, &params);
    let r = Evaluator::new(&ctx, recipe_net(), &held.unwrap()).unwrap().run(gpu(), false).block_on().unwrap();
    assert_eq!((Some(r.loss), Some(r.accuracy)), (kept.val_loss, kept.val_accuracy));
}

fn recipe_net() -> lenet_gpu::model::NetSpec {
    Recipe::default_recipe().net()
}
