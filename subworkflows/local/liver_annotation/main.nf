//
// LIVER_ANNOTATION: per-sample liver cell-type annotation, usable on its own after nf-core/scrnaseq.
// Published for other pipelines by scripts/components_repo.py (README "Use it in your pipeline").
//
// take:  ch_h5ad  tuple val(meta), path(h5ad | 10x folder | .h5 | .loom | .csv)
//        meta.id is required. The modules read nothing else from meta: the optional sample fields
//        meta.species ('human'/'mouse', detected otherwise), meta.symbol_col (var column of gene
//        symbols when var_names are Ensembl IDs, as in nf-core/scrnaseq's h5ad; detected otherwise)
//        and meta.counts_layer (layer of raw counts; 'counts' is used when present, else X) - the
//        fields nf-core/scdownstream passes on - become options through ext.args in
//        conf/modules.config (this pipeline's, or the lines the README gives a host pipeline).
// emit:  h5ad (annotated), cells (per-cell obs table), clusters (cluster table), summary (per-sample
//        JSON for the cohort step), plots, mqc (files for MultiQC), versions
//
include { LIVERANNOT_QC        } from '../../../modules/local/qc/main'
include { LIVERANNOT_NORMALIZE } from '../../../modules/local/normalize/main'
include { LIVERANNOT_CLUSTER   } from '../../../modules/local/cluster/main'
include { LIVERANNOT_CLASSIFY  } from '../../../modules/local/classify/main'
include { LIVERANNOT_ANNOTATE  } from '../../../modules/local/annotate/main'
include { LIVERANNOT_REPORT    } from '../../../modules/local/report/main'

workflow LIVER_ANNOTATION {

    take:
    ch_h5ad // channel: [ val(meta), path(h5ad) ]

    main:
    ch_versions = channel.empty()

    LIVERANNOT_QC ( ch_h5ad )
    ch_versions = ch_versions.mix(LIVERANNOT_QC.out.versions.first())

    LIVERANNOT_NORMALIZE ( LIVERANNOT_QC.out.h5ad )
    ch_versions = ch_versions.mix(LIVERANNOT_NORMALIZE.out.versions.first())

    LIVERANNOT_CLUSTER ( LIVERANNOT_NORMALIZE.out.h5ad )
    ch_versions = ch_versions.mix(LIVERANNOT_CLUSTER.out.versions.first())

    LIVERANNOT_CLASSIFY ( LIVERANNOT_CLUSTER.out.h5ad )
    ch_versions = ch_versions.mix(LIVERANNOT_CLASSIFY.out.versions.first())

    LIVERANNOT_ANNOTATE ( LIVERANNOT_CLASSIFY.out.h5ad )
    ch_versions = ch_versions.mix(LIVERANNOT_ANNOTATE.out.versions.first())

    LIVERANNOT_REPORT ( LIVERANNOT_ANNOTATE.out.h5ad )
    ch_versions = ch_versions.mix(LIVERANNOT_REPORT.out.versions.first())

    ch_mqc = LIVERANNOT_QC.out.mqc.map { _meta, table -> table }

    emit:
    h5ad     = LIVERANNOT_ANNOTATE.out.h5ad      // channel: [ val(meta), path(annotated h5ad) ]
    cells    = LIVERANNOT_CLASSIFY.out.cells     // channel: [ val(meta), path(per-cell csv) ]
    clusters = LIVERANNOT_ANNOTATE.out.clusters  // channel: [ val(meta), path(cluster csv) ]
    summary  = LIVERANNOT_REPORT.out.summary     // channel: [ val(meta), path(summary json) ]
    plots    = LIVERANNOT_REPORT.out.plots       // channel: [ val(meta), path(png) ]
    mqc      = ch_mqc                            // channel: path(MultiQC custom content: QC filters)
    versions = ch_versions                       // channel: path(versions.yml)
}
