fn main() {
    let letters = imr::corpus::load(&["data".into()]).unwrap();
    let texts: Vec<&str> = letters.iter().map(|l| l.letter.text.as_str()).collect();
    let t = std::time::Instant::now();
    let tok = imr::tokenize::LetterTokenizer::train(&texts, 4000).unwrap();
    eprintln!("trained vocab {} in {:?}", tok.vocab_size(), t.elapsed());
    let (mut total, mut bad, mut ntok) = (0, 0, 0);
    for l in &letters {
        let enc = tok.encode(&l.letter.text).unwrap();
        ntok += enc.len();
        let (tags, mis) = imr::tokenize::spans_to_bio(&enc.offsets, &l.entities);
        total += l.entities.len();
        bad += mis;
        let back = imr::tokenize::bio_to_spans(&enc.offsets, &tags);
        if back != l.entities {
            for e in &l.entities {
                if !back.contains(e) {
                    println!("{} {:?} {:?}", l.name(), e, l.letter.slice(e.span()));
                }
            }
        }
    }
    eprintln!("spans {total} misaligned {bad} tokens {ntok}");
}
