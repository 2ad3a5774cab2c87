//
// SAMPLESHEET_TO_CHANNEL: samplesheet rows -> channel of [ meta, input ] for the workflow.
// Plugin-free, so that the pipeline (rows from nf-schema's samplesheetToList) and the offline test
// entry (rows from a plain CSV read) share it.
//
// take:  rows         list of [ meta, input ]: meta.id and meta.species (may be empty) from the
//                     samplesheet; input as written in it
//        samplesheet  path of the samplesheet: relative inputs are taken from its folder (as for
//                     `liverannot run`); absolute paths and URLs are used as they are
// emit:  samples      channel of [ meta, path ]; meta.species is null where the sheet leaves it empty
//        (the workflow then falls back to --species, and liverannot to detection)
//
workflow SAMPLESHEET_TO_CHANNEL {

    take:
    rows        // list: [ val(meta), val(input) ]
    samplesheet // path: the samplesheet

    main:
    def sheet_dir = file(samplesheet).parent
    ch_samples = channel
        .fromList(rows)
        .map { meta, input ->
            def text    = input.toString()
            def is_abs  = text.startsWith('/') || text ==~ /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/.*/
            def path    = is_abs ? file(text) : sheet_dir.resolve(text)
            if (!path.exists()) {
                error("Samplesheet ${samplesheet}: input of sample '${meta.id}' not found: ${path}")
            }
            [ meta + [ id: meta.id.toString(), species: meta.species ?: null ], path ]
        }

    emit:
    samples = ch_samples // channel: [ val(meta), path(input) ]
}
