fn main() {
    let letters = imr::corpus::load(&["data/seeds".into()]).unwrap();
    let texts: Vec<&str> = letters.iter().map(|l| l.letter.text.as_str()).collect();
    for i in 0..3 {
        let t = imr::tokenize::LetterTokenizer::train(&texts, 600).unwrap();
        let p = format!("/tmp/tok{i}.json");
        t.save(std::path::Path::new(&p)).unwrap();
    }
}
