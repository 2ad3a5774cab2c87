#!/usr/bin/env nextflow
/*
 * Offline test entry (what nf-test does with its generated scripts): drives the pipeline's own
 * workflows without the nf-schema plugin, which cannot be downloaded here. tests/test_pipeline_runs.py
 * stages it as main.nf in a folder that links the pipeline's bin/, assets/, conf/, modules/,
 * subworkflows/ and workflows/ beside the pipeline's nextflow.config without its plugins block, so
 * projectDir, bin/ on the task PATH and every include are as in a real run.
 *
 *   default entry        the samplesheet (--input, plain CSV read) -> LIVERANNOT, as main.nf runs it
 *   -entry SUBWORKFLOW   the samplesheet -> LIVER_ANNOTATION alone, as another pipeline includes it;
 *                        optional columns symbol_col and counts_layer become meta fields
 */

include { LIVERANNOT             } from './workflows/liverannot'
include { LIVER_ANNOTATION       } from './subworkflows/local/liver_annotation/main'
include { SAMPLESHEET_TO_CHANNEL } from './subworkflows/local/samplesheet_to_channel'

def samplesheetRows(sheet) {
    // header row, then one row per sample; empty cells are absent meta fields
    def lines  = file(sheet).readLines().findAll { line -> line.trim() }
    def header = lines[0].split(',', -1).collect { col -> col.trim() }
    return lines.drop(1).collect { line ->
        def values = line.split(',', -1).collect { v -> v.trim() }
        def row    = [header, values].transpose().collectEntries { k, v -> [ (k): v ] }
        def meta   = [ id: row.sample, species: row.species ?: null ]
        if (row.symbol_col)   { meta.symbol_col   = row.symbol_col }
        if (row.counts_layer) { meta.counts_layer = row.counts_layer }
        [ meta, row.input ]
    }
}

workflow {
    main:
    SAMPLESHEET_TO_CHANNEL ( samplesheetRows(params.input), params.input )
    LIVERANNOT ( SAMPLESHEET_TO_CHANNEL.out.samples )
}

workflow SUBWORKFLOW {
    main:
    SAMPLESHEET_TO_CHANNEL ( samplesheetRows(params.input), params.input )
    LIVER_ANNOTATION ( SAMPLESHEET_TO_CHANNEL.out.samples )
}
