from chaoslab import docs


def test_readme_reference_tables_match_the_code():
    assert docs.render(docs.README.read_text()) == docs.README.read_text(), "README is stale: run `make docs`"


def test_every_setting_is_documented_in_the_readme():
    from chaoslab import settings

    readme = docs.README.read_text()
    for group in settings.ALL_GROUPS:
        for variable, _, _ in settings.describe(group):
            assert f"`{variable}`" in readme
