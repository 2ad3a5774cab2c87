// Cohort step: composition, QC and cluster tables across samples, and MultiQC custom content
// (liverannot aggregate --no-multiqc; MultiQC runs in its own module).
process LIVERANNOT_AGGREGATE {
    label 'process_single'

    conda "${moduleDir}/environment.yml"
    container "ghcr.io/liverannot/liverannot:0.1.0"

    input:
    path summaries, stageAs: 'summaries/*'

    output:
    path "cohort_*.csv"                 , emit: tables
    path "multiqc_data_in/*_mqc.tsv"    , emit: mqc
    path "versions.yml"                 , emit: versions, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    """
    liverannot aggregate \
        --summaries summaries \
        --outdir . \
        --no-multiqc \
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        liverannot: \$(liverannot --version | sed 's/liverannot //')
    END_VERSIONS
    """

    stub:
    """
    mkdir -p multiqc_data_in
    touch cohort_lineage_composition.csv cohort_qc.csv multiqc_data_in/liverannot_qc_mqc.tsv

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        liverannot: \$(liverannot --version | sed 's/liverannot //')
    END_VERSIONS
    """
}
