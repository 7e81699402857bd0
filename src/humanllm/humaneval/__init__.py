"""Human evaluation of the synthesized data (paper, Appendix A.4): a stratified sample of a run's
genome with a balanced annotator assignment (:mod:`.sample`), a rating page and CSV sheets
(:mod:`.page`, :mod:`.sheets`), served by ``humanllm serve`` (:mod:`.served`), and the scores:
means, Krippendorff's alpha with bootstrap intervals, a report (:mod:`.score`, :mod:`.report`)."""
