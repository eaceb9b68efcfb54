//! `lenet-gpu summary`: Keras' parameter counts, the 1998 paper's connections and
//! torchinfo's multiply-accumulates, all derived from the layer lists.

use lenet_gpu::model::summary::{layers, summary_json, summary_table, LayerInfo};
use lenet_gpu::model::{Arch, ParamLayout};

fn column(layers: &[LayerInfo], f: impl Fn(&LayerInfo) -> usize) -> Vec<usize> {
    layers.iter().map(f).collect()
}

#[test]
fn summary_counts_match_keras() {
    let counts = column(&layers(Arch::Lenet5), |l| l.params);
    assert_eq!(counts, [156, 0, 2416, 0, 0, 30840, 10164, 850]);
    assert_eq!(counts.iter().sum::<usize>(), 44_426);
    assert_eq!(ParamLayout::lenet5().count(), 44_426);
}

#[test]
fn summary_counts_match_the_1998_paper() {
    let layers = layers(Arch::Lenet1998);
    let counts = column(&layers, |l| l.params);
    assert_eq!(counts, [156, 12, 1516, 32, 48120, 10164, 840]);
    let names: Vec<&str> = layers.iter().map(|l| l.name).collect();
    assert_eq!(names, ["C1", "S2", "C3", "S4", "C5", "F6", "output"]);
    let trainable: usize = layers.iter().filter(|l| l.trainable).map(|l| l.params).sum();
    assert_eq!(trainable, ParamLayout::lenet1998().count(), "the layout stores exactly the trainable ones");
    let table = summary_table(Arch::Lenet1998, None);
    for needle in ["Trainable params: 60,000", "Non-trainable params: 840", "48,120", "1,516", "(None, 16, 10, 10)"] {
        assert!(table.contains(needle), "{needle} missing from\n{table}");
    }
}

#[test]
fn connections_are_the_papers() {
    // LeCun et al. 1998, section II.B: C1 (5·5+1)·6·28·28, S2 (4+1)·6·14·14, C3 10·10·1,516,
    // S4 16·(2·2+1)·5·5, C5 and F6 fully connected (as many as their parameters), the RBF
    // output 84·10; "340,908 connections" in all.
    let layers = layers(Arch::Lenet1998);
    let connections = column(&layers, |l| l.connections);
    assert_eq!(connections, [122_304, 5_880, 151_600, 2_000, 48_120, 10_164, 840]);
    assert_eq!(connections.iter().sum::<usize>(), 340_908);
    let table = summary_table(Arch::Lenet1998, None);
    for needle in ["122,304", "5,880", "151,600", "2,000", "Total connections: 340,908"] {
        assert!(table.contains(needle), "{needle} missing from\n{table}");
    }
}

#[test]
fn lenet5_mult_adds_are_a_hand_count() {
    // Output elements times kernel volume, weights of the dense layers:
    // conv1 6·24·24·(1·5·5) = 86,400; conv2 16·8·8·(6·5·5) = 153,600; fc1 256·120 = 30,720;
    // fc2 120·84 = 10,080; fc3 84·10 = 840; pooling and flatten 0.
    // torchinfo 1.8.0 (PyTorch 2.15) on the same model as nn.Sequential, input (1, 1, 28, 28),
    // prints 89,856, 154,624, 30,840, 10,164 and 850 (total_mult_adds 286,334, shown as
    // "0.29" M): it counts each bias add as one more multiply-accumulate; these columns
    // count the multiply-accumulates alone, as the hand count does.
    let layers = layers(Arch::Lenet5);
    let mult_adds = column(&layers, |l| l.mult_adds);
    assert_eq!(mult_adds, [86_400, 0, 153_600, 0, 0, 30_720, 10_080, 840]);
    assert_eq!(mult_adds.iter().sum::<usize>(), 281_640);
    let table = summary_table(Arch::Lenet5, Some(100));
    assert!(
        table.contains("Total mult-adds: 281,640 per image, 28,164,000 for a batch of 100"),
        "total line missing from\n{table}"
    );
    // Keras' connections, by the paper's rule: each output's inputs and bias.
    let connections = column(&layers, |l| l.connections);
    assert_eq!(connections, [89_856, 6 * 12 * 12 * 4, 154_624, 16 * 4 * 4 * 4, 0, 30_840, 10_164, 850]);
}

#[test]
fn lenet1998_mult_adds_count_each_weight_use() {
    // C1 6·28·28·25, S2 one coefficient per output 6·14·14, C3 10·10·(60 connections·25),
    // S4 16·5·5, C5 400·120, F6 120·84, the RBF 84·10.
    let mult_adds = column(&layers(Arch::Lenet1998), |l| l.mult_adds);
    assert_eq!(mult_adds, [117_600, 1_176, 150_000, 400, 48_000, 10_080, 840]);
}

#[test]
fn json_carries_the_table() {
    for arch in [Arch::Lenet5, Arch::Lenet1998] {
        let json = summary_json(arch, Some(10));
        let rows = json["layers"].as_array().expect("a list of layers");
        let layers = layers(arch);
        assert_eq!(rows.len(), layers.len());
        for (row, l) in rows.iter().zip(&layers) {
            assert_eq!(row["layer"], l.name);
            assert_eq!(row["type"], l.kind.as_str());
            assert_eq!(row["params"], l.params);
            assert_eq!(row["connections"], l.connections);
            assert_eq!(row["mult_adds"], l.mult_adds);
            assert_eq!(row["output_shape"], serde_json::json!(l.output_shape));
        }
        let total: usize = layers.iter().map(|l| l.mult_adds).sum();
        assert_eq!(json["total_mult_adds"], total);
        assert_eq!(json["batch_mult_adds"], total * 10);
        assert_eq!(json["total_params"], layers.iter().map(|l| l.params).sum::<usize>());
    }
}
