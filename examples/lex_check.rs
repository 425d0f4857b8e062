fn main() {
    let t = std::time::Instant::now();
    let lex = imr::lexicon::Lexicon::from_data_dir(std::path::Path::new("data")).unwrap();
    eprintln!("lexicon {:?} in {:?}", lex.len(), t.elapsed());
    lex.save(std::path::Path::new("/tmp/lex.txt.gz")).unwrap();
    let letters = imr::corpus::load(&["data".into()]).unwrap();
    let (mut dtp, mut dn, mut dg, mut xtp, mut xn, mut xg) = (0, 0, 0, 0, 0, 0);
    let mut fp = std::collections::HashMap::<String, usize>::new();
    for l in &letters {
        let m = lex.find(&l.letter.text, &l.letter.chars);
        let gold = |lab| {
            l.entities
                .iter()
                .filter(|e| e.label == lab)
                .map(|e| (e.start, e.end))
                .collect::<Vec<_>>()
        };
        let gd = gold(imr::annotation::Label::Drug);
        let gx = gold(imr::annotation::Label::Diagnosis);
        dn += m.drugs.len();
        dg += gd.len();
        dtp += m.drugs.iter().filter(|s| gd.contains(s)).count();
        xn += m.diagnoses.len();
        xg += gx.len();
        xtp += m
            .diagnoses
            .iter()
            .filter(|s| gx.iter().any(|g| g.0 < s.1 && s.0 < g.1))
            .count();
        for s in &m.drugs {
            if !gd.contains(s) {
                *fp.entry(l.letter.slice(imr::Span::new(s.0, s.1)).to_lowercase())
                    .or_default() += 1;
            }
        }
    }
    eprintln!(
        "drug exact: found {dn} gold {dg} tp {dtp}; dx overlap: found {xn} gold {xg} tp {xtp}"
    );
    let mut v: Vec<_> = fp.into_iter().collect();
    v.sort_by_key(|x| std::cmp::Reverse(x.1));
    eprintln!("top drug FPs {:?}", &v[..30.min(v.len())]);
}
